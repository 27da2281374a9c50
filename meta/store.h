// The metadata store: one LMDB environment with one named table per kind of record (docs/formats.md,
// "Metadata store"). Store owns the environment; Txn is one read or write transaction on it.
//
// Thread-safety: Store may be used from any thread. The environment is opened with MDB_NOTLS, so a
// read Txn is bound to its object, not to a thread. LMDB allows one write Txn at a time (others
// block in beginWrite); a write Txn and its nested children must stay on the thread that began it.
// A Txn is not thread-safe.
#pragma once

#include <lmdb.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "server/status.h"

namespace basalt::meta {

// Every table of the store. The order is the order of kTableNames in store.cc.
enum class Table {
  kMeta,        // "format_version", "next_ino", "boots" -> values
  kInodes,      // BE64(ino) -> InodeRecord
  kDirents,     // BE64(parent) ‖ name -> BE64(child) ‖ BE64(cookie)
  kCookies,     // BE64(parent) ‖ BE64(cookie) -> name
  kXattrs,      // BE64(ino) ‖ name -> value
  kSymlinks,    // BE64(ino) -> target
  kChunks,      // BE64(ino) ‖ BE32(index) -> chunk id, version, replica ids
  kGarbage,     // BE64(chunk id) -> replica ids
  kOrphans,     // BE64(ino) -> "" (nlink 0, waiting for the last close)
  kSessions,    // BE64(session) -> client name
  kDedup,       // BE64(session) ‖ BE64(seq) -> encoded Reply
  kChunkOwners, // BE64(chunk id) -> BE64(ino) ‖ BE32(index): which file a chunk belongs to
  kServers,     // BE32(server id) -> address ‖ '\0' ‖ zone [‖ '\0' ‖ "draining"]: every chunk server ever registered
  kLocks,       // BE64(ino) -> the inode's held locks (LockTable::encodeInode)
  kDelegations, // BE64(ino) -> BE64(session) ‖ BE64(generation): the session deciding the inode's locks
  kCount
};

constexpr uint32_t kFormatVersion = 1;

class Store;

struct StoreDefaults {
  uint8_t replication = 2;
  uint32_t chunkSize = 64u << 20;
};

// One transaction. Values returned by get() and passed to scan callbacks point into the map and are
// valid until the next write in this Txn or its end.
class Txn {
 public:
  Txn(Txn&& other) noexcept;
  Txn& operator=(Txn&&) = delete;
  ~Txn();  // aborts unless committed

  std::optional<std::string_view> get(Table t, std::string_view key) const;
  bool exists(Table t, std::string_view key) const { return get(t, key).has_value(); }
  void put(Table t, std::string_view key, std::string_view value);
  // Returns whether the key existed.
  bool del(Table t, std::string_view key);

  // Calls fn(key, value) for keys >= `from` in order while they start with `prefix` and fn returns
  // true. fn must not write to this Txn.
  void scan(Table t, std::string_view prefix, std::string_view from,
            const std::function<bool(std::string_view, std::string_view)>& fn) const;
  void scan(Table t, std::string_view prefix,
            const std::function<bool(std::string_view, std::string_view)>& fn) const {
    scan(t, prefix, prefix, fn);
  }
  uint64_t count(Table t) const;

  // A nested write transaction: its changes become part of this one when committed, vanish when
  // aborted. Requires a write Txn; this Txn must not be used until the child ends.
  Txn child();

  // Throws (kj exception) on failure; for the top-level write txn this is the durable commit.
  void commit();
  void abort();
  bool writable() const { return writable_; }

 private:
  friend class Store;

struct StoreDefaults {
  uint8_t replication = 2;
  uint32_t chunkSize = 64u << 20;
};
  Txn(const Store& store, MDB_txn* txn, bool writable) : store_(&store), txn_(txn), writable_(writable) {}
  const Store* store_;
  MDB_txn* txn_;
  bool writable_;
};

class Store {
 public:
  // Opens (creating if needed) the store in directory `dir`, which must exist. A new store is
  // initialised with the format version, the root directory (inode 1) and the counters. Fails with
  // a clear message for an unknown format version or an unreadable environment.
  // readOnly: nothing is created or written (for fsck); the store must exist.
  // `defaults` only matter when the store is created: they become the root directory's replication
  // and chunk size, which every new file and directory inherits.
  static Result<std::unique_ptr<Store>> open(const std::string& dir, bool readOnly = false,
                                             StoreDefaults defaults = {});
  ~Store();
  Store(const Store&) = delete;
  Store& operator=(const Store&) = delete;

  Txn beginRead() const;
  // Blocks while another write Txn is open.
  Txn beginWrite();

  const std::string& dir() const { return dir_; }
  // The number of times this store was opened (including this time); a generation for new inodes.
  uint64_t boots() const { return boots_; }
  MDB_dbi dbi(Table t) const { return dbis_[static_cast<int>(t)]; }

 private:
  Store() = default;
  Status init(StoreDefaults defaults);
  Status openReadOnly();
  std::string dir_;
  MDB_env* env_ = nullptr;
  int lockFd_ = -1;
  MDB_dbi dbis_[static_cast<int>(Table::kCount)] = {};
  uint64_t boots_ = 0;
};

}  // namespace basalt::meta
