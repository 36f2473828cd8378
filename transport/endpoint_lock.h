/*  endpoint_lock.h - an ipc:// endpoint bound by one process at a time.

    libzmq binds an ipc:// endpoint by unlinking whatever socket file is at
    its path and binding a new one there: a second node started on the
    endpoints of a running one (the same node name, another data
    directory) took the first one's clients and peers from it, silently,
    until one of them stopped. Over TCP the second bind fails ("address in
    use"). endpoint_lock gives ipc:// the same: before binding PATH, a
    node takes an exclusive flock(2) on PATH.lock, beside the socket, and
    holds it until it no longer listens there.

    Why a lock file: the kernel drops the lock when its process dies, even
    by SIGKILL, so a lock file left behind never keeps a restart out, and
    taking it is atomic, where probing the socket by connecting to it
    races with a node that starts at the same moment. Why flock and not
    fcntl's locks: two opens conflict even in one process (two nodes of a
    test), closing another descriptor of the file does not drop it, and a
    read-only descriptor can hold it. The lock file is made 0600, and one
    an older node made 0644 is narrowed when its owner opens it: another
    user who could open it could lock it and keep the node off its
    endpoint. The lock file is never removed:
    removing it would let two processes lock two different files of the
    same name.

    With the lock held, what is at PATH is looked at before libzmq unlinks
    it: nothing, or a socket nobody listens on (left by a process that
    died), is replaced; anything else is refused and left as it was: a
    user's file, a directory or a symbolic link given by mistake (libzmq
    removed it), or a socket another program listens on (probed by a
    connect, which it sees as a connection that closes at once).

    Known limit: a program that binds the path without the lock after
    this check still takes the socket, as before. An abstract socket
    (ipc://@name) needs no lock (the kernel refuses a second bind), nor
    does the path "*" (libzmq picks a new one).
    Threads: any; a lock belongs to the process.
*/
#ifndef ENDPOINT_LOCK_H_INCLUDED
#define ENDPOINT_LOCK_H_INCLUDED

//  Takes the lock of endpoint if it is an ipc:// path. Returns 0 with
//  *fd the lock's descriptor (-1 when endpoint needs none), to give back
//  with endpoint_unlock once nothing listens there any more; or
//  SHOAL_EBUSY when another process holds it or another program listens
//  on the path, SHOAL_EEXIST when something else than a socket (or a
//  socket that cannot be probed) is at the path, SHOAL_EIO when the lock
//  file cannot be opened or locked, SHOAL_ENOMEM, with *error (free with
//  free()) naming the endpoint.
int endpoint_lock (const char *endpoint, int *fd, char **error);

//  Gives back the lock *fd (nothing if -1) and sets it to -1. Can't fail.
void endpoint_unlock (int *fd);

#endif
