/*  top_term.c - starting ncurses for `shoal top` without initscr, which
    prints "Error opening terminal" and exits when it cannot: setupterm's
    error out-param says whether $TERM is known, terminfo whether it can
    move the cursor, and only then newterm starts the screen.
    A file of its own because <term.h> defines a macro for every terminfo
    capability (lines, columns, ...), which the drawing code would trip on.

    One thread: the caller's.
*/
#include "top_term.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#ifdef SHOAL_NCURSESW
#include <ncursesw/term.h>
#else
#include <term.h>
#endif

//  What to do instead: a terminal type that can draw, or --once, which
//  needs none (shoal stats has no --json: it always prints JSON).
#define TOP_TERM_HINT "try TERM=xterm, or `shoal top --once` (no terminal; --json for a script)"

SCREEN *top_term_open (void)
{
    const char *term = getenv ("TERM");
    if (!term || !*term) {
        fprintf (stderr, "shoal top: TERM is not set; " TOP_TERM_HINT "\n");
        return NULL;
    }
    //  setupterm first: with an out-param it prints nothing, and a newterm
    //  that fails leaks what it allocated. known: 1 the type is known, 0
    //  it is not (or is too generic), -1 there is no terminfo database.
    int known = 0;
    if (setupterm (term, STDOUT_FILENO, &known) != OK) {
        if (known == -1)
            fprintf (
                stderr,
                "shoal top: no terminfo database to look up terminal type '%s' in; " TOP_TERM_HINT
                "\n",
                term);
        else
            fprintf (stderr, "shoal top: terminal type '%s' is not known; " TOP_TERM_HINT "\n",
                     term);
        return NULL;
    }
    const char *cup = tigetstr ("cup");
    bool addressable = cup && cup != (const char *) -1;
    del_curterm (cur_term);
    if (!addressable) {
        fprintf (stderr,
                 "shoal top: terminal type '%s' cannot draw a screen (it cannot move the "
                 "cursor); " TOP_TERM_HINT "\n",
                 term);
        return NULL;
    }
    SCREEN *screen = newterm (term, stdout, stdin);
    if (!screen)
        fprintf (stderr, "shoal top: cannot start terminal type '%s'; " TOP_TERM_HINT "\n", term);
    return screen;
}
