// The metadata store: one LMDB environment with one named table per kind of record (docs/formats.md,
// "Metadata store"). Store owns the environment; Txn is one read or write transaction on it.
//
// Durability (docs/meta.md, "Durability: the command log"): a writable store is written without
// syncing; what makes a commit durable is its record in the command log (commitLogged), and what
// makes the LMDB file durable is a checkpoint. Opening rewinds the file to its last checkpoint and
// applies the log's records after it again.
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
#include <atomic>
#include <mutex>
#include <vector>
#include <optional>
#include <string>
#include <string_view>

#include "server/status.h"

namespace basalt::meta {

class CheckpointFile;
class CommandLog;
struct CommandLogEntry {
  uint64_t seq;
  uint64_t term;
  std::string payload;
};

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
  // One of several metadata servers (docs/replication.md): opening keeps the command log's records
  // after the checkpoint unapplied (they may not be committed), and the root directory's times are
  // 0, so every replica starts from the same state.
  bool replicated = false;
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

  // Throws (kj exception) on failure. A top-level write txn committed so is not durable by itself:
  // Store::commitLogged is the durable commit.
  void commit();
  void abort();
  bool writable() const { return writable_; }

 private:
  friend class Store;

  Txn(const Store& store, MDB_txn* txn, bool writable) : store_(&store), txn_(txn), writable_(writable) {}
  const Store* store_;
  MDB_txn* txn_;
  bool writable_;
};

class Store {
 public:
  // Applies one command-log record to a write txn (Committer::replayRecord); may throw.
  using Replayer = std::function<void(Txn&, std::string_view record)>;

  // Opens (creating if needed) the store in directory `dir`, which must exist. A new store is
  // initialised with the format version, the root directory (inode 1) and the counters. Fails with
  // a clear message for an unknown format version or an unreadable environment.
  // readOnly: nothing is created or written (for fsck); the store must exist.
  // `defaults` only matter when the store is created: they become the root directory's replication
  // and chunk size, which every new file and directory inherits.
  // Writable: crash recovery first. The LMDB file is rewound to its last checkpoint and the command
  // log's records after it are applied again through `replay`, each in a write transaction of its
  // own (without `replay`, a log holding such records fails the open); then a checkpoint.
  static Result<std::unique_ptr<Store>> open(const std::string& dir, bool readOnly = false,
                                             StoreDefaults defaults = {}, const Replayer& replay = {});
  // A writable store checkpoints when closed: a clean close leaves nothing to replay.
  ~Store();
  Store(const Store&) = delete;
  Store& operator=(const Store&) = delete;

  Txn beginRead() const;
  // Blocks while another write Txn is open.
  Txn beginWrite();

  // ---- durability (writable stores)
  // The durable commit of the top-level write txn `txn`: appends `record` (what recover needs to
  // redo it) to the command log and waits for the disk, then commits `txn` without syncing.
  // Throws (kj exception) on failure, and then nothing of it remains (a process that could not
  // erase the record again exits: replaying it after a restart is the only consistent outcome).
  void commitLogged(Txn& txn, std::string_view record);
  // Makes the LMDB file durable as it is now and starts a new log run. No write txn may be open.
  Status checkpoint();
  // checkpoint() when the current log run holds kCheckpointBytes or is kCheckpointMs old. Between
  // checkpoints LMDB cannot reuse the pages it frees (the previous snapshot is held), so the
  // interval bounds the file's growth: copying /usr/include/linux twice grew it to 87 MB with
  // 2 s, 12.5 MB with 250 ms, at the same speed (a checkpoint then blocks commits for ≤ 8 ms).
  Status checkpointIfDue();
  // In how many ms a checkpoint is due (0: now); -1 when the log holds nothing to checkpoint.
  int64_t checkpointDueInMs() const;
  static constexpr uint64_t kCheckpointBytes = 16u << 20;
  static constexpr int64_t kCheckpointMs = 250;
  static constexpr int64_t kCheckpointRetryMs = 5000;
  // The log record sequence number the last checkpoint includes.
  uint64_t checkpointSeq() const { return checkpointSeq_; }
  // Command-log records that open() applied again (a crash had cut them off).
  uint64_t replayed() const { return replayed_; }

  // ---- replication (a replicated store; docs/replication.md)
  // The last command-log record applied to the store, and its term.
  uint64_t appliedSeq() const { return appliedSeq_.load(); }
  uint64_t appliedTerm() const { return appliedTerm_.load(); }
  // The command log's last record and its term (records after appliedSeq are not applied yet).
  uint64_t lastSeq() const { return lastSeq_.load(); }
  uint64_t lastTerm() const { return lastTerm_.load(); }
  // The first record the command log still holds (records before it are in the store only).
  uint64_t firstSeq();
  std::optional<uint64_t> termAt(uint64_t seq);
  std::vector<CommandLogEntry> readLog(uint64_t from, uint64_t to, size_t maxBytes);
  // A leader's own record (a new leader's empty batch): appended and synced, not applied.
  Status appendLocal(std::string_view record, uint64_t term);
  // A follower's AppendEntries: the log must hold `prevSeq` with `prevTerm`; a record of `entries`
  // whose seq the log holds with another term erases that record and every later one. Answers
  // false (and changes nothing) when `prevSeq` is missing or has another term.
  Result<bool> appendEntries(uint64_t prevSeq, uint64_t prevTerm, const std::vector<CommandLogEntry>& entries);
  // Applies the log's records up to `seq` (committed, so the replicas agree on them) in one write
  // transaction. Blocking; worker thread.
  Status applyCommitted(uint64_t seq, const Replayer& replay);
  // How a leader's commit reaches a majority of the replicas, on the committer's worker:
  // `send` right after the batch's record is written to the local log and before it is flushed
  // (the followers' round trip and flush overlap the leader's own flush; the leader counts itself
  // only once its flush is done); `await` after the flush, before the store commits the batch,
  // false meaning "not committed" (the leader is stepping down). Set before any batch runs. From
  // then on boots() is `term`: what makes handles and lock generations unique is then the leader's
  // term, not this replica's own count of opens.
  struct Replicate {
    std::function<void(uint64_t seq, uint64_t term, std::string_view record)> send;
    std::function<bool(uint64_t seq)> await;
  };
  void setReplication(uint64_t term, Replicate replicate);
  // A checkpoint restarts the command log; while this answers false (a follower still needs the
  // records) it is put off, up to kCheckpointBytes * 4 of records.
  void setMayRestartLog(std::function<bool()> fn) { mayRestartLog_ = std::move(fn); }
  // Writes a compacted copy of the store to `path` (a snapshot for a follower). Blocking.
  Status copyTo(const std::string& path) const;
  // The file a follower receives a snapshot into; the next open installs it in place of the
  // store (crash-safe: the file's presence drives the installation).
  std::string snapshotPath() const { return dir_ + "/snapshot.mdb"; }

  const std::string& dir() const { return dir_; }
  // The number of times this store was opened (including this time); a generation for new inodes.
  uint64_t boots() const { return boots_; }
  MDB_dbi dbi(Table t) const { return dbis_[static_cast<int>(t)]; }

 private:
  Store() = default;
  Status init(StoreDefaults defaults);
  Status openReadOnly();
  // Writes the last checkpoint's meta pages back into data.mdb (before the environment opens).
  Status rewindToCheckpoint();
  Status replayLog(const Replayer& replay);
  // A replicated open: index the log after the checkpoint, apply nothing.
  Status scanLog();
  // Before the environment opens: a received snapshot replaces data.mdb, the checkpoint and the log.
  Status installSnapshotIfAny();
  // Records the applied position in `txn` (table meta, key "applied": seq ‖ term, big-endian).
  static void putApplied(Txn& txn, uint64_t seq, uint64_t term);
  void readApplied();
  void noteLog();  // refreshes lastSeq_/lastTerm_ from the log (logMutex_ held)
  bool replicated_ = false;
  std::mutex logMutex_;  // the command log: the committer's worker, a follower's worker, readers
  std::atomic<uint64_t> appliedSeq_{0}, appliedTerm_{0}, lastSeq_{0}, lastTerm_{0};
  uint64_t term_ = 0;  // a leader's term: what its records are tagged with
  Replicate replicate_;
  std::function<bool()> mayRestartLog_;
  std::string dir_;
  MDB_env* env_ = nullptr;
  std::unique_ptr<CommandLog> log_;
  std::unique_ptr<CheckpointFile> checkpoints_;
  MDB_txn* pin_ = nullptr;  // a read txn on the last checkpoint's snapshot: LMDB keeps its pages
  // One checkpoint at a time: the closing store's waits for one still running on a worker.
  std::mutex checkpointMutex_;
  uint64_t checkpointSeq_ = 0;
  int64_t lastCheckpointMs_ = 0;  // steady clock
  int64_t retryCheckpointMs_ = 0;  // after a failed checkpoint: not before then
  uint64_t replayed_ = 0;
  bool opened_ = false;  // writable and completely opened (recovered, checkpointed)
  int lockFd_ = -1;
  MDB_dbi dbis_[static_cast<int>(Table::kCount)] = {};
  uint64_t boots_ = 0;
};

}  // namespace basalt::meta
