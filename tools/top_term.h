/*  top_term.h - the terminal `shoal top` draws on: ncurses started on the
    type $TERM names, or a clear line on stderr saying why not (initscr
    would print its own and exit the process).

    One thread: the caller's.
*/
#ifndef TOP_TERM_H_INCLUDED
#define TOP_TERM_H_INCLUDED

#ifdef SHOAL_NCURSESW
#include <ncursesw/ncurses.h>
#else
#include <ncurses.h>
#endif

//  Starts ncurses on stdout and stdin as the terminal type $TERM. Returns
//  the current screen (end it with endwin, then delscreen), or NULL after
//  a line on stderr, the terminal left as it was: TERM unset or empty, a
//  type terminfo does not know, no terminfo database, or a type that
//  cannot move the cursor (dumb).
SCREEN *top_term_open (void);

#endif
