/*  tablefile.cc - LevelDB's table files written a mebibyte at a time.
    See tablefile.h. The one C++ file of shoal: LevelDB's environment is a
    C++ class, and its C API has no way to wrap one.
*/
#include "tablefile.h"

#include <leveldb/env.h>

#include <atomic>
#include <mutex>
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
//  LevelDB's own file (which writes what it is given at its Flush).
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
        buffer_.reserve (TABLEFILE_CHUNK + (64u << 10)); //  a chunk and a block
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
        buffer_.append (data.data (), data.size ());
        return buffer_.size () >= TABLEFILE_CHUNK ? s_push () : status_;
    }
    leveldb::Status Flush () override
    {
        return status_; //  a block's end: the bytes wait for the chunk
    }
    leveldb::Status Sync () override
    {
        leveldb::Status status = s_push ();
        return status.ok () ? file_->Sync () : status;
    }
    leveldb::Status Close () override
    {
        leveldb::Status status = s_push ();
        leveldb::Status closed = file_->Close ();
        return status.ok () ? closed : status;
    }

  private:
    //  Writes the buffer out. A failure stays: every later call returns it.
    leveldb::Status s_push ()
    {
        if (!status_.ok () || buffer_.empty ())
            return status_;
        s_writes++;
        s_bytes += buffer_.size ();
        status_ = file_->Append (buffer_);
        if (status_.ok ())
            status_ = file_->Flush ();
        if (!status_.ok ())
            s_failures++;
        buffer_.clear (); //  keeps its capacity
        return status_;
    }

    leveldb::WritableFile *file_;
    std::string buffer_;
    leveldb::Status status_;
};

class table_env_t : public leveldb::EnvWrapper
{
  public:
    table_env_t () : leveldb::EnvWrapper (leveldb::Env::Default ()) {}
    leveldb::Status NewWritableFile (const std::string &name, leveldb::WritableFile **file) override
    {
        leveldb::Status status = target ()->NewWritableFile (name, file);
        if (status.ok () && s_is_table (name))
            *file = new chunked_file_t (*file);
        return status;
    }

  private:
    static bool s_is_table (const std::string &name)
    {
        static const std::string suffix = ".ldb";
        return name.size () > suffix.size () &&
               name.compare (name.size () - suffix.size (), suffix.size (), suffix) == 0;
    }
};

leveldb_env_t *s_make ()
{
    //  The layout check: LevelDB's own handle of its default environment.
    leveldb_env_t *probe = leveldb_create_default_env ();
    bool laid_out = probe && probe->rep == leveldb::Env::Default ();
    leveldb_env_destroy (probe);
    if (!laid_out)
        return nullptr;
    //  Never freed: LevelDB's background thread may use it until exit.
    return new leveldb_env_t{new table_env_t (), false};
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
