/*  tablefile.cc - LevelDB's table files written a mebibyte at a time.
    See tablefile.h. The one C++ file of shoal: LevelDB's environment is a
    C++ class, and its C API has no way to wrap one.
*/
#include "tablefile.h"
extern "C" {
#include "threadname.h"
}

#include <leveldb/db.h>
#include <leveldb/env.h>

#include <atomic>
#include <cstring>
#include <mutex>
#include <new>
#include <string>

//  The C API's handle of an environment, as leveldb/c.cc defines it (the
//  header leaves it opaque). tablefile_env checks this layout against a
//  handle LevelDB makes before it hands one of its own out.
struct leveldb_env_t {
    leveldb::Env *rep;
    bool is_default;
};

namespace
{

std::atomic<uint64_t> s_files, s_writes, s_bytes, s_failures;

//  The buffer of the last table file closed, for the next one: LevelDB
//  writes one table at a time, and a fresh MiB each time costs its page
//  faults (and its growth by doubling, a copy each). Never freed, as the
//  environment: a table may be written while the process exits.
std::mutex s_spare_lock;
std::string *s_spare = new std::string ();

//  A table file: its bytes gathered up to TABLEFILE_CHUNK, then handed to
//  LevelDB's own file, which writes them out at its Flush (the first 64
//  KiB through its own buffer: two write(2)s a chunk).
class chunked_file_t : public leveldb::WritableFile
{
  public:
    explicit chunked_file_t (leveldb::WritableFile *file) : file_ (file)
    {
        s_files++;
        {
            std::lock_guard<std::mutex> hold (s_spare_lock);
            buffer_.swap (*s_spare);
        }
        buffer_.clear ();
        try {
            buffer_.reserve (TABLEFILE_CHUNK + (64u << 10)); //  a chunk and a block
        } catch (const std::bad_alloc &) {
            //  it grows as the bytes come, or fails their Append
        }
    }
    ~chunked_file_t () override
    {
        delete file_; //  closes it if Close was not called: a discarded table
        std::lock_guard<std::mutex> hold (s_spare_lock);
        if (buffer_.capacity () > s_spare->capacity ())
            buffer_.swap (*s_spare);
    }
    leveldb::Status Append (const leveldb::Slice &data) override
    {
        if (!status_.ok ())
            return status_;
        try { //  LevelDB is built without exceptions: none may reach it
            buffer_.append (data.data (), data.size ());
        } catch (const std::bad_alloc &) {
            s_failures++;
            return status_ = leveldb::Status::IOError ("out of memory for a table's bytes");
        }
        return buffer_.size () >= TABLEFILE_CHUNK ? s_push (false) : status_;
    }
    leveldb::Status Flush () override
    {
        return status_; //  a block's end: the bytes wait for the chunk
    }
    leveldb::Status Sync () override
    {
        leveldb::Status status = s_push (true);
        return status.ok () ? file_->Sync () : status;
    }
    leveldb::Status Close () override
    {
        leveldb::Status status = s_push (true);
        leveldb::Status closed = file_->Close ();
        return status.ok () ? closed : status;
    }

  private:
    //  Writes the buffer out: all of it, or (a full chunk) its whole pages,
    //  the rest kept for the next, so that each write covers whole pages
    //  of the file. A failure stays: every later call returns it.
    leveldb::Status s_push (bool all)
    {
        size_t size = all ? buffer_.size () : buffer_.size () & ~(size_t) (TABLEFILE_PAGE - 1);
        if (!status_.ok () || size == 0)
            return status_;
        s_writes++;
        s_bytes += size;
        status_ = file_->Append (leveldb::Slice (buffer_.data (), size));
        if (status_.ok ())
            status_ = file_->Flush ();
        if (!status_.ok ())
            s_failures++;
        buffer_.erase (0, size); //  keeps its capacity
        return status_;
    }

    leveldb::WritableFile *file_;
    std::string buffer_;
    leveldb::Status status_;
};

class table_env_t : public leveldb::EnvWrapper
{
  public:
    //  LevelDB's one background thread starts at its first Schedule, from
    //  the thread that calls it, whose name and nice value it takes: a
    //  read's sampled seek may schedule a compaction from any reader. It
    //  starts here, from the thread of the first open, and its first task
    //  names it.
    table_env_t () : leveldb::EnvWrapper (leveldb::Env::Default ())
    {
        target ()->Schedule ([] (void *) { thread_name ("shoal-leveldb"); }, nullptr);
    }
    leveldb::Status NewWritableFile (const std::string &name, leveldb::WritableFile **file) override
    {
        leveldb::Status status = target ()->NewWritableFile (name, file);
        if (status.ok () && s_is_table (name)) {
            chunked_file_t *chunked = new (std::nothrow) chunked_file_t (*file);
            if (chunked) //  else out of memory: LevelDB's own file, a block a write
                *file = chunked;
        }
        return status;
    }

  private:
    static bool s_is_table (const std::string &name)
    {
        static constexpr char suffix[] = ".ldb"; //  no destructor: used until exit
        size_t len = sizeof suffix - 1;
        return name.size () > len && memcmp (name.data () + name.size () - len, suffix, len) == 0;
    }
};

leveldb_env_t *s_make ()
{
    //  The library is the one these headers describe (its classes, as
    //  this file derives from them)...
    if (leveldb_major_version () != leveldb::kMajorVersion ||
        leveldb_minor_version () != leveldb::kMinorVersion)
        return nullptr;
    //  ...and its C handle is laid out as above: LevelDB's own handle of
    //  its default environment.
    leveldb_env_t *probe = leveldb_create_default_env ();
    bool laid_out = probe && probe->rep == leveldb::Env::Default ();
    leveldb_env_destroy (probe);
    if (!laid_out)
        return nullptr;
    //  Never freed: LevelDB's background thread may use it until exit.
    table_env_t *env = new (std::nothrow) table_env_t ();
    leveldb_env_t *handle = env ? new (std::nothrow) leveldb_env_t{env, false} : nullptr;
    if (!handle)
        delete env; //  out of memory: the default environment
    return handle;
}

} // namespace

extern "C" leveldb_env_t *tablefile_env (void)
{
    static leveldb_env_t *env = s_make (); //  made once, thread-safe
    return env;
}

extern "C" void tablefile_stats (tablefile_stats_t *stats)
{
    stats->files = s_files;
    stats->writes = s_writes;
    stats->bytes = s_bytes;
    stats->failures = s_failures;
}
