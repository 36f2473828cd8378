/*  sync.c - the journal's group sync, in sync durability.

    A commit is one LevelDB write without LevelDB's sync (the record is in
    the log file, in the OS's cache, and visible to every reader at once),
    then journal_sync makes it durable: fdatasync of LevelDB's log files,
    one caller at a time, each covering every write that completed before
    it began. While one runs, other threads go on writing; the next sync
    covers all of them at once, so the workers' commits share their
    fsyncs (LevelDB's own sync write holds its writer queue across the
    fsync, and our write mutex serialized the rest).

    Why the log files are enough, and which they are:

    - LevelDB appends each write to its current log file (flushed to the
      OS before leveldb_write returns) and to the memtable. When the
      memtable is full it opens a new log file and turns the old memtable
      into a table, which it syncs with the MANIFEST before it deletes the
      old log. So what a sync must cover is in the log files still there:
      every one, oldest first (a write may have gone to the old one just
      before the switch; LevelDB itself never syncs the old one).
    - The log files are found by listing the directory once, then through
      inotify: a file created there is queued as an event before create()
      returns, so a log that a write before this sync went to is seen by
      it. A log deleted since (its links are 0) was compacted into a synced
      table and is closed. Without inotify (no instance left), the
      directory is listed at every sync. A new log's directory entry is
      synced too (LevelDB does not).
    - The log is a sequence: a sync that covers a write covers every write
      before it. So a crash keeps a prefix of the writes, in the order they
      completed, across workers: what one worker released to another after
      its write (the release runs after the write) was written later by
      that other, never kept without its cause. That holds for what our
      fsyncs leave behind; a disk that wrote the kernel's own writeback of
      two log pages out of order, just before a power cut, could keep the
      later one alone: every open of a GAPLESS store checks the event log
      for such a gap and refuses it (verify.c).
    - A log that is there but cannot be opened (no descriptor left) is
      never taken for a deleted one: the sync makes nothing durable, says
      so once a second, and the directory is listed again.

    What waits for a sync: everything that leaves the node (the front holds
    clients' replies and sends to other nodes: runtime/front.c), and the
    event log's end as readers see it (journal_log_end: projections never
    see an event that a crash could take back). What does not: messages
    between the node's own actors, whose effects are written after their
    causes. In a node the syncs run on a thread of their own (the syncer,
    journal_sync_start), one as soon as the last ended if anything was
    written meanwhile, and an eventfd tells the front after each; callers
    that want a write durable on return (journal_batch_commit, metadata)
    call journal_sync and wait for the sync that covers it, or run it.

    A failed fsync stops the process (exit code 3), as PostgreSQL does: the
    kernel may have dropped the pages it could not write and marked them
    clean, so no later sync, reopen or read can be trusted to tell what the
    disk holds. Nothing that waited for it was acknowledged; a restart
    recovers from what the disk holds.

    Threads: any. sync_lock guards syncing, synced and the list of logs
    (touched by the one thread that runs the sync, syncing set); write_seq
    is the write mutex's.
*/
#include "journal_internal.h"
#include "dirsync.h"
#include "log.h"
#include "regfile.h"
#include "threadname.h"
#include <assert.h>
#include <czmq.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <unistd.h>

//  "NNNNNN.log": LevelDB's log files. Sets *number.
static bool s_is_log (const char *name, uint64_t *number)
{
    char *end;
    errno = 0;
    unsigned long long n = strtoull (name, &end, 10);
    if (end == name || errno || strcmp (end, ".log") != 0)
        return false;
    *number = n;
    return true;
}

//  Starts tracking log number (opened read-only: fdatasync needs no more).
//  Returns 1 if it is new, 0 if it was tracked or is gone (deleted since:
//  compacted into a synced table), else an errno (it is there and cannot be
//  opened: no sync may pass it by).
static int s_track (journal_t *self, uint64_t number)
{
    for (size_t i = 0; i < self->sync_log_count; i++)
        if (self->sync_logs[i].number == number)
            return 0;
    if (self->sync_log_count == JOURNAL_SYNC_LOGS_MAX)
        return ENFILE; //  LevelDB keeps two at most: something else is wrong
    char path[PATH_MAX];
    snprintf (path, sizeof path, "%s/%06" PRIu64 ".log", self->dir, number);
    int fd = open (path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return errno == ENOENT ? 0 : (errno ? errno : EIO);
    size_t at = self->sync_log_count;
    while (at > 0 && self->sync_logs[at - 1].number > number) {
        self->sync_logs[at] = self->sync_logs[at - 1];
        at--;
    }
    self->sync_logs[at] = (journal_sync_log_t){number, fd};
    self->sync_log_count++;
    return 1;
}

//  Lists the directory's log files into the tracked ones. Returns 0 and
//  sets *added to the count of new ones, or an errno.
static int s_list (journal_t *self, int *added)
{
    *added = 0;
    DIR *dir = opendir (self->dir);
    if (!dir)
        return errno ? errno : EIO;
    int rc = 0;
    struct dirent *entry;
    uint64_t number;
    while (rc == 0 && (entry = readdir (dir))) {
        if (!s_is_log (entry->d_name, &number))
            continue;
        int tracked = s_track (self, number);
        if (tracked == 1)
            (*added)++;
        else if (tracked != 0)
            rc = tracked;
    }
    closedir (dir);
    return rc;
}

//  True if inotify saw a log file created (or lost events, or the watch
//  ended) since the last look, or cannot be read. A watch that ended
//  (IN_IGNORED, IN_UNMOUNT) is closed: every sync lists the directory.
static bool s_logs_changed (journal_t *self)
{
    bool changed = false, ended = false;
    char buffer[4096] __attribute__ ((aligned (__alignof__(struct inotify_event))));
    while (true) {
        ssize_t size = read (self->sync_notify, buffer, sizeof buffer);
        if (size <= 0) {
            if (size == 0 || errno != EAGAIN)
                changed = ended = true;
            break;
        }
        for (char *at = buffer; at < buffer + size;) {
            struct inotify_event *event = (struct inotify_event *) at;
            uint64_t number;
            if (event->mask & (IN_IGNORED | IN_UNMOUNT))
                changed = ended = true;
            if ((event->mask & IN_Q_OVERFLOW) || (event->len && s_is_log (event->name, &number)))
                changed = true;
            at += sizeof (struct inotify_event) + event->len;
        }
    }
    if (ended) {
        close (self->sync_notify);
        self->sync_notify = -1;
        self->sync_notify_lost = true;
    }
    return changed;
}

//  Finds the logs a sync must cover; syncs the directory while a new one's
//  name may not be durable. Returns 0, or an errno: then *found is false
//  if the logs could not be found (the next sync lists them again, or
//  tries the directory again), true if the directory's fsync failed.
static int s_find_logs (journal_t *self, bool *found)
{
    *found = false;
    if (!self->sync_listed && self->sync_notify < 0 && !self->sync_notify_lost) {
        self->sync_notify = inotify_init1 (IN_NONBLOCK | IN_CLOEXEC);
        if (self->sync_notify >= 0 &&
            inotify_add_watch (self->sync_notify, self->dir, IN_CREATE | IN_MOVED_TO) < 0) {
            close (self->sync_notify);
            self->sync_notify = -1;
        }
    }
    //  The watch first, then the listing: a log made between them is an
    //  event, seen at the next sync.
    bool list = !self->sync_listed || self->sync_notify < 0 || s_logs_changed (self);
    if (list) {
        int added;
        int rc = s_list (self, &added);
        self->sync_listed = rc == 0;
        if (added)
            self->sync_dir_due = true;
        if (rc)
            return rc;
    }
    if (!self->sync_dir_due)
        return 0;
    bool opened;
    int rc = dirsync_sync (self->dir, &opened);
    //  Not opened: tried again at the next sync; a failed fsync: nothing
    //  can be trusted.
    *found = opened;
    if (rc == 0)
        self->sync_dir_due = false;
    return rc;
}

//  Sets *value to at least to (other threads move it too: a reopen's
//  recovery sets the log's end).
static void s_raise (atomic_uint_fast64_t *value, uint64_t to)
{
    uint_fast64_t was = atomic_load (value);
    while (was < to && !atomic_compare_exchange_weak (value, &was, to))
        ;
}

//  fdatasync of every log still there, oldest first. Returns 0 or an
//  errno; *found is false when the logs could not be found (listed, or
//  one opened), true when an fdatasync failed.
static int s_sync_logs (journal_t *self, bool *found)
{
    int rc = s_find_logs (self, found);
    if (rc == 0)
        *found = true;
    for (size_t i = 0; rc == 0 && i < self->sync_log_count;) {
        journal_sync_log_t *log = &self->sync_logs[i];
        struct stat st;
        if (fstat (log->fd, &st) == 0 && st.st_nlink == 0) { //  compacted and deleted
            close (log->fd);
            memmove (log, log + 1, (self->sync_log_count - i - 1) * sizeof *log);
            self->sync_log_count--;
            continue;
        }
        if (fdatasync (log->fd) != 0)
            rc = errno ? errno : EIO;
        i++;
    }
    //  An open store always has its log: none found is no sync at all.
    if (rc == 0 && self->sync_log_count == 0) {
        self->sync_listed = false;
        *found = false;
        rc = ENOENT;
    }
    return rc;
}

//  One sync of the logs, by the thread that holds syncing. A failed
//  fdatasync stops the node (exit 3): after it, nothing the disk holds of
//  the writes can be trusted, nothing that waited for it was acknowledged,
//  and a restart recovers from what the disk holds. Logs that cannot be
//  found (out of descriptors, say) are no sync: warned of once a second,
//  waited for JOURNAL_SYNC_RETRY_MS, and an errno returned for the caller
//  to look for them again. 0 on a sync, counted.
static int s_sync_or_stop (journal_t *self)
{
    bool found;
    int rc = s_sync_logs (self, &found);
    if (rc && found) {
        log_error ("journal %s: cannot make its writes durable (fdatasync of its log: %s); "
                   "stopping the node: nothing that waited for it was acknowledged, and a "
                   "restart recovers from what the disk holds",
                   self->dir, strerror (rc));
        _exit (3);
    }
    if (rc) {
        int64_t now = zclock_mono ();
        if (now - self->sync_warned_at >= 1000) {
            log_warn ("journal %s: cannot find its log files to sync them (%s); what waits "
                      "for them waits, and they are looked for again",
                      self->dir, strerror (rc));
            self->sync_warned_at = now;
        }
        zclock_sleep (JOURNAL_SYNC_RETRY_MS);
    } else
        atomic_fetch_add (&self->syncs, 1);
    return rc;
}

void journal_sync_init (journal_t *self, bool group)
{
    self->sync_group = group;
    self->sync_notify = -1;
    self->mark_fd = -1;
    self->sync_event = group ? eventfd (0, EFD_NONBLOCK | EFD_CLOEXEC) : -1;
    pthread_mutex_init (&self->sync_lock, NULL);
    pthread_cond_init (&self->sync_done, NULL);
    pthread_condattr_t monotonic;
    pthread_condattr_init (&monotonic);
    pthread_condattr_setclock (&monotonic, CLOCK_MONOTONIC);
    pthread_cond_init (&self->sync_wanted, &monotonic);
    pthread_condattr_destroy (&monotonic);
}

//  The syncer: syncs whenever a write is not durable yet.
//  Writes the synced end of the event log into JOURNAL_SYNCED_FILE, if it
//  moved and (unless now) the last mark is JOURNAL_MARK_MS old. One
//  thread at a time: the syncer, or the close once it has stopped. Marks
//  are appended, each fdatasync'd (nothing is overwritten: a cut keeps a
//  prefix of them); the first of a process, and one that would take the
//  file past JOURNAL_MARK_ROTATE bytes, goes into a new file renamed over
//  the old, the directory synced. A mark that cannot be written is said
//  once and tried again: it is a check, and nothing waits for it.
static void s_mark (journal_t *self, bool now)
{
    uint64_t end = atomic_load (&self->log_end);
    int64_t at = zclock_mono ();
    if (!self->mark_checked || end <= self->marked ||
        (!now && at - self->marked_at < JOURNAL_MARK_MS))
        return;
    if (atomic_exchange (&self->mark_renew, false) && self->mark_fd >= 0) {
        close (self->mark_fd);
        self->mark_fd = -1;
    }
    self->marked_at = at;
    char text[24];
    int size = snprintf (text, sizeof text, "%020" PRIu64 "\n", end);
    if (self->mark_fd >= 0 && self->mark_size + (size_t) size > JOURNAL_MARK_ROTATE) {
        close (self->mark_fd);
        self->mark_fd = -1;
    }
    bool done;
    if (self->mark_fd >= 0) {
        done = pwrite (self->mark_fd, text, (size_t) size, (off_t) self->mark_size) == size &&
               fdatasync (self->mark_fd) == 0;
        if (done)
            self->mark_size += (size_t) size;
    } else {
        char path[PATH_MAX], fresh[PATH_MAX + 8];
        snprintf (path, sizeof path, "%s/%s", self->dir, JOURNAL_SYNCED_FILE);
        snprintf (fresh, sizeof fresh, "%s.new", path);
        unlink (fresh); //  one a cut left
        int fd = open (fresh, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
        done = fd >= 0 && write (fd, text, (size_t) size) == size && fdatasync (fd) == 0 &&
               rename (fresh, path) == 0 && dirsync_sync (self->dir, NULL) == 0;
        if (done) {
            self->mark_fd = fd;
            self->mark_size = (size_t) size;
        } else if (fd >= 0)
            close (fd);
    }
    if (done)
        self->marked = end;
    else if (!self->mark_warned) {
        self->mark_warned = true;
        log_warn ("journal %s: cannot write %s (%s): a log file lost while the node is stopped "
                  "would not be noticed",
                  self->dir, JOURNAL_SYNCED_FILE, strerror (errno));
    }
}

static void *s_syncer (void *arg)
{
    journal_t *self = arg;
    thread_name ("shoal-syncer");
    pthread_mutex_lock (&self->sync_lock);
    while (!self->syncer_stop) {
        uint64_t written = atomic_load (&self->written);
        if (atomic_load (&self->synced) < written) {
            pthread_mutex_unlock (&self->sync_lock);
            journal_sync (self, written);
            s_mark (self, false);
            pthread_mutex_lock (&self->sync_lock);
        } else if (atomic_load (&self->log_end) > self->marked) {
            //  Idle with a mark due: written once its time comes.
            struct timespec until;
            clock_gettime (CLOCK_MONOTONIC, &until); //  sync_wanted's clock
            int64_t wait_ms = self->marked_at + JOURNAL_MARK_MS - zclock_mono ();
            wait_ms = wait_ms < 1 ? 1 : wait_ms;
            until.tv_sec += wait_ms / 1000;
            until.tv_nsec += (wait_ms % 1000) * 1000000;
            if (until.tv_nsec >= 1000000000) {
                until.tv_sec++;
                until.tv_nsec -= 1000000000;
            }
            if (pthread_cond_timedwait (&self->sync_wanted, &self->sync_lock, &until) ==
                ETIMEDOUT) {
                pthread_mutex_unlock (&self->sync_lock);
                s_mark (self, false);
                pthread_mutex_lock (&self->sync_lock);
            }
        } else
            pthread_cond_wait (&self->sync_wanted, &self->sync_lock);
    }
    pthread_mutex_unlock (&self->sync_lock);
    return NULL;
}

bool journal_mark_read (const char *dir, uint64_t *marked)
{
    return journal_mark_read_file (dir, JOURNAL_SYNCED_FILE, marked);
}

bool journal_mark_read_file (const char *dir, const char *name, uint64_t *marked)
{
    char path[PATH_MAX], text[64] = "";
    snprintf (path, sizeof path, "%s/%s", dir, name);
    int fd = regfile_open (path);
    if (fd < 0 && errno == EINVAL)
        log_warn ("journal %s: %s is not a regular file: taken as none", dir, name);
    if (fd < 0)
        return false; //  none yet (a new store, an async node's, or a repaired one)
    //  The last whole line of its end: a mark cut short has no newline.
    off_t file_size = lseek (fd, 0, SEEK_END);
    off_t from = file_size > (off_t) sizeof text - 1 ? file_size - (off_t) sizeof text + 1 : 0;
    ssize_t size = file_size > 0 ? pread (fd, text, sizeof text - 1, from) : 0;
    close (fd);
    text[size > 0 ? size : 0] = 0;
    char *last_end = strrchr (text, '\n');
    unsigned long long value = 0;
    bool read = false;
    if (last_end) {
        *last_end = 0;
        char *line = strrchr (text, '\n');
        line = line ? line + 1 : text;
        //  20 digits and nothing else: strtoull alone would take a sign
        //  or a space, and "-1" for 2^64 - 1.
        bool digits = last_end - line == 20 && strspn (line, "0123456789") == 20;
        char *end = NULL;
        errno = 0;
        value = digits ? strtoull (line, &end, 10) : 0;
        read = digits && *end == 0 && errno == 0;
    }
    if (!read && file_size > 0)
        log_warn ("journal %s: %s holds no whole mark (%lld bytes): taken as none", dir, name,
                  (long long) file_size);
    *marked = read ? value : 0;
    return read;
}

int journal_mark_check (journal_t *self, char **message)
{
    self->mark_checked = true; //  from here on, marks may follow (s_mark)
    uint64_t marked;
    if (!journal_mark_read (self->dir, &marked))
        return 0;
    uint64_t log_end = atomic_load (&self->log_end);
    self->marked = log_end < marked ? log_end : marked;
    if (log_end >= marked)
        return 0;
    self->mark_checked = false; //  refused: the close writes no lower mark
    //  Nothing left (its one log lost whole): no loss to accept, and the
    //  repair refuses a store with no record.
    char accept[PATH_MAX + 64] = "";
    if (log_end > 0)
        snprintf (accept, sizeof accept, ", or accept the loss with `shoal repair --data %s`",
                  self->dir);
    *message = zsys_sprintf (
        "the journal in %s lost writes that were acknowledged: its event log ends at position "
        "%" PRIu64 ", but a sync had made it durable up to %" PRIu64
        " (%s). A log file was truncated "
        "or deleted while the node was stopped, or the disk dropped writes; LevelDB takes that "
        "for a crash's torn end and drops it without a word. Nothing was started on it: restore "
        "the directory from a backup%s (an older copy restored on purpose over a newer %s: "
        "delete that file)",
        self->dir, log_end, marked, JOURNAL_SYNCED_FILE, accept, JOURNAL_SYNCED_FILE);
    return SHOAL_EFORMAT;
}

int journal_sync_start (journal_t *self)
{
    assert (self);
    if (!self->sync_group || atomic_load (&self->syncer_on))
        return 0;
    if (self->sync_event < 0)
        return SHOAL_EIO;
    self->syncer_stop = false;
    atomic_store (&self->syncer_on, true); //  before any write can miss it
    if (pthread_create (&self->syncer, NULL, s_syncer, self) != 0) {
        atomic_store (&self->syncer_on, false);
        return SHOAL_ENOMEM;
    }
    return 0;
}

int journal_sync_fd (journal_t *self)
{
    assert (self);
    return atomic_load (&self->syncer_on) ? self->sync_event : -1;
}

void journal_sync_wanted (journal_t *self)
{
    if (!atomic_load (&self->syncer_on))
        return;
    pthread_mutex_lock (&self->sync_lock);
    pthread_cond_signal (&self->sync_wanted);
    pthread_mutex_unlock (&self->sync_lock);
}

//  Stops the syncer thread, if it runs.
static void s_syncer_stop (journal_t *self)
{
    atomic_store (&self->sync_stopping, true); //  and journal_destroy's last sync
    if (!atomic_load (&self->syncer_on))
        return;
    pthread_mutex_lock (&self->sync_lock);
    self->syncer_stop = true;
    pthread_cond_signal (&self->sync_wanted);
    pthread_mutex_unlock (&self->sync_lock);
    pthread_join (self->syncer, NULL);
    atomic_store (&self->syncer_on, false);
}

void journal_sync_stop (journal_t *self)
{
    s_syncer_stop (self);
}

void journal_sync_close (journal_t *self)
{
    s_syncer_stop (self);
    if (self->sync_group && atomic_load (&self->syncs) > 0)
        s_mark (self, true); //  after the close's last sync
    if (self->mark_fd >= 0)
        close (self->mark_fd);
    self->mark_fd = -1;
    if (self->sync_event >= 0)
        close (self->sync_event);
    self->sync_event = -1;
    for (size_t i = 0; i < self->sync_log_count; i++)
        close (self->sync_logs[i].fd);
    self->sync_log_count = 0;
    if (self->sync_notify >= 0)
        close (self->sync_notify);
    self->sync_notify = -1;
    pthread_cond_destroy (&self->sync_done);
    pthread_cond_destroy (&self->sync_wanted);
    pthread_mutex_destroy (&self->sync_lock);
}

void journal_sync_wrote (journal_t *self, uint64_t log_next)
{
    self->write_seq++;
    if (!self->sync_group) { //  synced first: no reader sees it behind
        atomic_store (&self->synced, self->write_seq);
        atomic_store (&self->log_end, log_next);
    }
    atomic_store (&self->written, self->write_seq);
}

uint64_t journal_written (journal_t *self)
{
    assert (self);
    return atomic_load (&self->written);
}

uint64_t journal_written_all (journal_t *self)
{
    assert (self);
    pthread_mutex_lock (&self->writing); //  a write under way counts itself first
    uint64_t written = self->write_seq;
    pthread_mutex_unlock (&self->writing);
    return written;
}

uint64_t journal_synced (journal_t *self)
{
    assert (self);
    return atomic_load (&self->synced);
}

uint64_t journal_syncs (journal_t *self)
{
    assert (self);
    return atomic_load (&self->syncs);
}

int journal_sync (journal_t *self, uint64_t upto)
{
    assert (self);
    if (atomic_load (&self->synced) >= upto)
        return 0;
    pthread_mutex_lock (&self->sync_lock);
    while (atomic_load (&self->synced) < upto) {
        if (self->syncing) { //  another thread's: it may cover ours
            pthread_cond_wait (&self->sync_done, &self->sync_lock);
            continue;
        }
        self->syncing = true;
        pthread_mutex_unlock (&self->sync_lock);
        //  What this sync covers: every write that completed before it.
        pthread_mutex_lock (&self->writing);
        uint64_t target = self->write_seq;
        uint64_t log_target = self->log_next;
        pthread_mutex_unlock (&self->writing);
        int rc = s_sync_or_stop (self);
        //  Stopping, the retries end: nothing acknowledged waits for them
        //  (the front held it), and the next start recovers from the disk.
        bool give_up = rc && atomic_load (&self->sync_stopping);
        if (give_up)
            log_warn ("journal %s: stopping with its last writes maybe not durable (nothing "
                      "acknowledged depends on them)",
                      self->dir);
        pthread_mutex_lock (&self->sync_lock);
        self->syncing = false;
        if (rc == 0) {
            s_raise (&self->synced, target);
            s_raise (&self->log_end, log_target);
        }
        pthread_cond_broadcast (&self->sync_done);
        if (self->sync_event >= 0) { //  the front holds what waits for it
            uint64_t one = 1;
            ssize_t wrote = write (self->sync_event, &one, sizeof one);
            (void) wrote; //  full: it is readable anyway
        }
        if (give_up) {
            pthread_mutex_unlock (&self->sync_lock);
            return SHOAL_EIO;
        }
    }
    pthread_mutex_unlock (&self->sync_lock);
    return 0;
}

int journal_sync_logs_now (journal_t *self)
{
    assert (self);
    pthread_mutex_lock (&self->sync_lock);
    while (self->syncing)
        pthread_cond_wait (&self->sync_done, &self->sync_lock);
    self->syncing = true;
    pthread_mutex_unlock (&self->sync_lock);
    //  The write is in the store already, seen by readers: its caller
    //  cannot take it back, so it is made durable or the node stops, as
    //  in sync durability (a failed fdatasync exits 3); logs not found
    //  are looked for again until the node stops.
    int rc;
    while ((rc = s_sync_or_stop (self)) != 0 && !atomic_load (&self->sync_stopping))
        ;
    pthread_mutex_lock (&self->sync_lock);
    self->syncing = false;
    pthread_cond_broadcast (&self->sync_done);
    pthread_mutex_unlock (&self->sync_lock);
    if (rc)
        log_warn ("journal %s: stopping with a write maybe not durable (its logs not found: %s)",
                  self->dir, strerror (rc));
    return rc ? SHOAL_EIO : 0;
}

int journal_sync_durable (journal_t *self, uint64_t written)
{
    return self->sync_group ? journal_sync (self, written) : journal_sync_logs_now (self);
}

int journal_sync_all (journal_t *self)
{
    assert (self);
    return journal_sync (self, journal_written (self));
}
