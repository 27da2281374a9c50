#include "meta/store.h"

#include <fcntl.h>
#include <sys/file.h>
#include <time.h>
#include <unistd.h>

#include <kj/debug.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "meta/checkpoint_file.h"
#include "meta/command_log.h"
#include "meta/inode.h"
#include "meta/keys.h"

namespace basalt::meta {
namespace {

const char* const kTableNames[] = {"meta",    "inodes",  "dirents", "cookies",  "xattrs", "symlinks",
                                   "chunks",  "garbage", "orphans", "sessions", "dedup",
                                   "chunk_owners", "servers", "locks", "lock_delegations"};
static_assert(sizeof(kTableNames) / sizeof(kTableNames[0]) == static_cast<size_t>(Table::kCount));

constexpr size_t kMapSize = 64ull << 30;  // address space only; the file is sparse

MDB_val val(std::string_view s) { return MDB_val{s.size(), const_cast<char*>(s.data())}; }
std::string_view view(const MDB_val& v) { return {static_cast<const char*>(v.mv_data), v.mv_size}; }

void check(int rc, const char* what) {
  if (rc != 0) KJ_FAIL_REQUIRE("LMDB error", what, mdb_strerror(rc));
}

int64_t steadyMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

}  // namespace

// ---- Txn -----------------------------------------------------------------------------------

Txn::Txn(Txn&& o) noexcept : store_(o.store_), txn_(o.txn_), writable_(o.writable_) { o.txn_ = nullptr; }

Txn::~Txn() { abort(); }

std::optional<std::string_view> Txn::get(Table t, std::string_view key) const {
  MDB_val k = val(key), v;
  int rc = mdb_get(txn_, store_->dbi(t), &k, &v);
  if (rc == MDB_NOTFOUND) return std::nullopt;
  check(rc, "mdb_get");
  return view(v);
}

void Txn::put(Table t, std::string_view key, std::string_view value) {
  MDB_val k = val(key), v = val(value);
  check(mdb_put(txn_, store_->dbi(t), &k, &v, 0), "mdb_put");
}

bool Txn::del(Table t, std::string_view key) {
  MDB_val k = val(key);
  int rc = mdb_del(txn_, store_->dbi(t), &k, nullptr);
  if (rc == MDB_NOTFOUND) return false;
  check(rc, "mdb_del");
  return true;
}

void Txn::scan(Table t, std::string_view prefix, std::string_view from,
               const std::function<bool(std::string_view, std::string_view)>& fn) const {
  MDB_cursor* cur = nullptr;
  check(mdb_cursor_open(txn_, store_->dbi(t), &cur), "mdb_cursor_open");
  KJ_DEFER(mdb_cursor_close(cur));
  MDB_val k = val(from), v;
  int rc = from.empty() ? mdb_cursor_get(cur, &k, &v, MDB_FIRST) : mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
  while (rc == 0) {
    auto key = view(k);
    if (key.substr(0, prefix.size()) != prefix) return;
    if (!fn(key, view(v))) return;
    rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT);
  }
  if (rc != MDB_NOTFOUND) check(rc, "mdb_cursor_get");
}

uint64_t Txn::count(Table t) const {
  MDB_stat st;
  check(mdb_stat(txn_, store_->dbi(t), &st), "mdb_stat");
  return st.ms_entries;
}

Txn Txn::child() {
  KJ_REQUIRE(writable_, "nested transaction of a read transaction");
  MDB_txn* c = nullptr;
  check(mdb_txn_begin(mdb_txn_env(txn_), txn_, 0, &c), "mdb_txn_begin(nested)");
  return Txn(*store_, c, true);
}

void Txn::commit() {
  KJ_REQUIRE(txn_ != nullptr, "commit of a finished transaction");
  MDB_txn* t = txn_;
  txn_ = nullptr;
  check(mdb_txn_commit(t), "mdb_txn_commit");
}

void Txn::abort() {
  if (txn_ != nullptr) mdb_txn_abort(txn_);
  txn_ = nullptr;
}

// ---- Store ---------------------------------------------------------------------------------

Result<std::unique_ptr<Store>> Store::open(const std::string& dir, bool readOnly, StoreDefaults defaults,
                                           const Replayer& replay) {
  std::unique_ptr<Store> s(new Store());
  s->dir_ = dir;
  // One process per data dir: LMDB itself would let two writers take turns, and two leaders would
  // corrupt the namespace. The lock dies with the process (kill -9 included).
  int lockFd = ::open((dir + "/LOCK").c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (lockFd < 0) return Status::error(errno, "cannot open " + dir + "/LOCK: " + strerror(errno));
  if (flock(lockFd, LOCK_EX | LOCK_NB) != 0) {
    int e = errno;
    ::close(lockFd);
    return Status::error(e == EWOULDBLOCK ? EBUSY : e, "data dir " + dir + " is in use by another basalt-meta");
  }
  s->lockFd_ = lockFd;
  s->replicated_ = defaults.replicated;
  if (!readOnly) {
    Status snap = s->installSnapshotIfAny();
    if (!snap.isOk()) return snap;
    auto checkpoints = CheckpointFile::open(dir + "/checkpoint");
    if (!checkpoints.isOk()) return checkpoints.status();
    s->checkpoints_ = kj::mv(*checkpoints);
    Status st = s->rewindToCheckpoint();
    if (!st.isOk()) return st;
    auto log = CommandLog::open(dir + "/command-log");
    if (!log.isOk()) return log.status();
    s->log_ = kj::mv(*log);
  }
  // Writable: no sync per commit (the command log is what is synced; see commitLogged).
  int rc = mdb_env_create(&s->env_);
  if (rc == 0) rc = mdb_env_set_maxdbs(s->env_, static_cast<MDB_dbi>(Table::kCount) + 2);
  if (rc == 0) rc = mdb_env_set_mapsize(s->env_, kMapSize);
  if (rc == 0) rc = mdb_env_open(s->env_, dir.c_str(), MDB_NOTLS | (readOnly ? MDB_RDONLY : MDB_NOSYNC), 0644);
  if (rc != 0) {
    return Status::error(rc > 0 ? rc : EIO, "cannot open metadata store in " + dir + ": " + mdb_strerror(rc));
  }
  Status st = readOnly ? s->openReadOnly() : s->init(defaults);
  if (!st.isOk()) return st;
  if (!readOnly) {
    s->readApplied();
    st = s->replicated_ ? s->scanLog() : s->replayLog(replay);
    if (st.isOk()) st = s->checkpoint();
    if (!st.isOk()) return st;
    s->opened_ = true;
  }
  return s;
}

Store::~Store() {
  // Only a store that opened completely: a checkpoint of one that failed half-way (before its log
  // was replayed) would record the log's records as included and lose them.
  if (opened_) {
    Status st = checkpoint();
    if (!st.isOk()) fprintf(stderr, "basalt-meta: closing %s: %s (the next open replays the command log)\n", dir_.c_str(), st.message().c_str());
  }
  if (pin_ != nullptr) mdb_txn_abort(pin_);
  if (env_ != nullptr) mdb_env_close(env_);
  if (lockFd_ >= 0) ::close(lockFd_);
}

Status Store::rewindToCheckpoint() {
  const auto& cp = checkpoints_->latest();
  if (!cp) return Status::ok();  // a new store, or one from before the command log
  checkpointSeq_ = cp->seq;
  std::string path = dir_ + "/data.mdb";
  int fd = ::open(path.c_str(), O_RDWR | O_CLOEXEC);
  if (fd < 0) {
    return Status::error(errno, "cannot open " + path + " to rewind it to its checkpoint (seq " +
                                    std::to_string(cp->seq) + "): " + strerror(errno));
  }
  ssize_t n = ::pwrite(fd, cp->pages.data(), cp->pages.size(), 0);
  int e = 0;
  if (n != static_cast<ssize_t>(cp->pages.size())) {
    e = n < 0 ? errno : EIO;
  } else if (::fsync(fd) != 0) {
    e = errno;
  }
  ::close(fd);
  if (e != 0) return Status::error(e, "cannot rewind " + path + " to its checkpoint: " + strerror(e));
  return Status::ok();
}

Status Store::replayLog(const Replayer& replay) {
  std::lock_guard<std::mutex> lock(logMutex_);
  KJ_DEFER(noteLog());
  return log_->replay(checkpointSeq_, [&](uint64_t seq, std::string_view record) -> Status {
    if (!replay) {
      return Status::error(EINVAL, "the command log of " + dir_ + " holds record " + std::to_string(seq) +
                                       " after checkpoint " + std::to_string(checkpointSeq_) +
                                       ": open it with a replayer (basalt-meta does)");
    }
    KJ_IF_MAYBE(e, kj::runCatchingExceptions([&]() {
                  Txn txn = beginWrite();
                  replay(txn, record);
                  if (replicated_) putApplied(txn, seq, 0);
                  txn.commit();
                  appliedSeq_ = seq;
                })) {
      return Status::error(EIO, "replaying command log record " + std::to_string(seq) + " of " + dir_ +
                                    " failed: " + e->getDescription().cStr());
    }
    ++replayed_;
    return Status::ok();
  });
}

void Store::commitLogged(Txn& txn, std::string_view record) {
  KJ_REQUIRE(log_ != nullptr && txn.writable_ && txn.txn_ != nullptr, "commitLogged needs a write txn");
  uint64_t seq;
  {
    std::lock_guard<std::mutex> lock(logMutex_);
    seq = log_->nextSeq();
    Status st = log_->write(record, term_);
    if (st.isOk()) {
      if (replicate_.send) replicate_.send(seq, term_, record);  // the followers flush while we do
      st = log_->sync();
      if (!st.isOk() && replicate_.send) {
        // The followers may commit the record without us: a restart learns the outcome from them.
        fprintf(stderr, "basalt-meta: cannot flush command log record %llu after sending it to the followers "
                        "(%s): exiting so that a restart follows the cluster\n",
                static_cast<unsigned long long>(seq), st.message().c_str());
        std::abort();
      }
    }
    noteLog();
    if (!st.isOk()) {
      txn.abort();
      KJ_FAIL_REQUIRE("metadata commit failed: cannot append to the command log", st.message());
    }
  }
  // Replicated: a majority of the metadata servers must have the record before anyone sees it.
  // A leader that cannot get there steps down (and restarts) before this returns false.
  if (replicate_.await && !replicate_.await(seq)) {
    txn.abort();
    KJ_FAIL_REQUIRE("metadata commit failed: this server is no longer the leader", seq);
  }
  if (replicated_) putApplied(txn, seq, term_);  // a single server's checkpoint says as much
  MDB_txn* t = txn.txn_;
  txn.txn_ = nullptr;
  int rc = mdb_txn_commit(t);
  if (rc == 0) {
    appliedSeq_ = seq;
    appliedTerm_ = term_;
    return;
  }
  Status st = replicated_ ? Status::error(EIO, "replicated") : [&] {
    std::lock_guard<std::mutex> lock(logMutex_);
    KJ_DEFER(noteLog());
    return log_->retract();
  }();
  if (!st.isOk()) {
    // The record would be replayed after a restart although the caller is told the commit failed:
    // stop now instead, and let the restart apply it (a client retrying gets the recorded answer).
    // (Replicated: the other servers have the record; the restart applies it as they do.)
    fprintf(stderr, "basalt-meta: LMDB commit failed (%s) and its command log record cannot be erased (%s): "
                    "exiting so that a restart applies it\n",
            mdb_strerror(rc), st.message().c_str());
    std::abort();
  }
  check(rc, "mdb_txn_commit");
}

void Store::putApplied(Txn& txn, uint64_t seq, uint64_t term) {
  txn.put(Table::kMeta, "applied", be64(seq) + be64(term));
}

void Store::readApplied() {
  Txn txn = beginRead();
  auto v = txn.get(Table::kMeta, "applied");
  if (v && v->size() == 16) {
    appliedSeq_ = readBe64(v->substr(0, 8));
    appliedTerm_ = readBe64(v->substr(8, 8));
  } else {
    appliedSeq_ = checkpointSeq_;  // a store from before the marker: its checkpoint says
  }
}

void Store::noteLog() {
  lastSeq_ = log_->lastSeq();
  lastTerm_ = log_->lastTerm();
}

Status Store::scanLog() {
  std::lock_guard<std::mutex> lock(logMutex_);
  if (appliedSeq_ != checkpointSeq_ && checkpoints_->latest()) {
    return Status::error(EIO, "metadata store " + dir_ + ": its checkpoint is of record " + std::to_string(checkpointSeq_) +
                                  " but the store has applied " + std::to_string(appliedSeq_.load()));
  }
  Status st = log_->scan(appliedSeq_, appliedTerm_);
  noteLog();
  return st;
}

uint64_t Store::firstSeq() {
  std::lock_guard<std::mutex> lock(logMutex_);
  return log_->firstSeq();
}

std::optional<uint64_t> Store::termAt(uint64_t seq) {
  std::lock_guard<std::mutex> lock(logMutex_);
  return log_->termAt(seq);
}

std::vector<CommandLogEntry> Store::readLog(uint64_t from, uint64_t to, size_t maxBytes) {
  std::lock_guard<std::mutex> lock(logMutex_);
  std::vector<CommandLogEntry> out;
  for (auto& e : log_->read(from, to, maxBytes)) out.push_back({e.seq, e.term, std::move(e.payload)});
  return out;
}

Status Store::appendLocal(std::string_view record, uint64_t term) {
  std::lock_guard<std::mutex> lock(logMutex_);
  KJ_DEFER(noteLog());
  return log_->append(record, term);
}

Result<bool> Store::appendEntries(uint64_t prevSeq, uint64_t prevTerm, const std::vector<CommandLogEntry>& entries) {
  std::lock_guard<std::mutex> lock(logMutex_);
  KJ_DEFER(noteLog());
  if (prevSeq > log_->lastSeq()) return false;
  // Entries up to appliedSeq are committed: every leader's log agrees with them.
  if (prevSeq > appliedSeq_) {
    auto t = log_->termAt(prevSeq);
    if (!t || *t != prevTerm) return false;
  }
  for (const auto& e : entries) {
    if (e.seq <= appliedSeq_) continue;
    if (e.seq <= log_->lastSeq()) {
      if (log_->termAt(e.seq) == e.term) continue;
      Status st = log_->truncateFrom(e.seq);
      if (!st.isOk()) return st;
    }
    if (e.seq != log_->nextSeq()) {
      return Status::error(EINVAL, "record " + std::to_string(e.seq) + " does not follow record " +
                                       std::to_string(log_->lastSeq()) + " of " + dir_);
    }
    Status st = log_->append(e.payload, e.term);
    if (!st.isOk()) return st;
  }
  return true;
}

Status Store::applyCommitted(uint64_t seq, const Replayer& replay) {
  if (seq <= appliedSeq_) return Status::ok();
  auto entries = readLog(appliedSeq_ + 1, seq, SIZE_MAX);
  if (entries.empty() || entries.back().seq != seq || entries.front().seq != appliedSeq_ + 1) {
    return Status::error(EIO, "cannot read command log records " + std::to_string(appliedSeq_ + 1) + ".." +
                                  std::to_string(seq) + " of " + dir_);
  }
  KJ_IF_MAYBE(e, kj::runCatchingExceptions([&]() {
                Txn txn = beginWrite();
                for (auto& entry : entries) replay(txn, entry.payload);
                putApplied(txn, seq, entries.back().term);
                txn.commit();
              })) {
    return Status::error(EIO, "applying command log records up to " + std::to_string(seq) + " of " + dir_ +
                                  " failed: " + e->getDescription().cStr());
  }
  appliedSeq_ = seq;
  appliedTerm_ = entries.back().term;
  return Status::ok();
}

void Store::setReplication(uint64_t term, Replicate replicate) {
  term_ = term;
  boots_ = term;  // unique per leader across the cluster (a local open count is not)
  replicate_ = std::move(replicate);
}

Status Store::copyTo(const std::string& path) const {
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return Status::error(errno, "cannot create " + path + ": " + strerror(errno));
  int rc = mdb_env_copyfd2(env_, fd, MDB_CP_COMPACT);
  if (rc == 0 && ::fsync(fd) != 0) rc = errno;
  ::close(fd);
  if (rc != 0) return Status::error(rc > 0 ? rc : EIO, "cannot copy the metadata store to " + path + ": " + mdb_strerror(rc));
  return Status::ok();
}

Status Store::installSnapshotIfAny() {
  std::string snap = snapshotPath();
  if (access(snap.c_str(), F_OK) != 0) return Status::ok();
  // Order matters for a crash in between: while snapshot.mdb exists the next open does it again.
  if (::unlink((dir_ + "/checkpoint").c_str()) != 0 && errno != ENOENT) {
    return Status::error(errno, "cannot remove " + dir_ + "/checkpoint for a snapshot: " + strerror(errno));
  }
  if (::truncate((dir_ + "/command-log").c_str(), 0) != 0 && errno != ENOENT) {
    return Status::error(errno, "cannot empty " + dir_ + "/command-log for a snapshot: " + strerror(errno));
  }
  if (::rename(snap.c_str(), (dir_ + "/data.mdb").c_str()) != 0) {
    return Status::error(errno, "cannot install the snapshot " + snap + ": " + strerror(errno));
  }
  int dfd = ::open(dir_.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd >= 0) {
    (void)::fsync(dfd);
    ::close(dfd);
  }
  return Status::ok();
}

Status Store::checkpoint() {
  KJ_REQUIRE(log_ != nullptr, "checkpoint of a read-only store");
  std::lock_guard<std::mutex> lock(checkpointMutex_);
  MDB_txn* pin = nullptr;
  int rc = mdb_txn_begin(env_, nullptr, MDB_RDONLY, &pin);
  if (rc != 0) return Status::error(EIO, std::string("checkpoint: cannot begin a read transaction: ") + mdb_strerror(rc));
  auto fail = [&](Status st) {
    mdb_txn_abort(pin);
    return st;
  };
  MDB_stat ms;
  rc = mdb_env_stat(env_, &ms);
  if (rc != 0) return fail(Status::error(EIO, std::string("checkpoint: mdb_env_stat: ") + mdb_strerror(rc)));
  if (ms.ms_psize > CheckpointFile::kMaxPageSize) {
    return fail(Status::error(EINVAL, "checkpoint: LMDB pages of " + std::to_string(ms.ms_psize) + " bytes"));
  }
  std::unique_lock<std::mutex> logLock(logMutex_);
  // A replicated log may hold records not applied yet (not known to be committed): a checkpoint
  // would restart the log over them. It waits until they are applied.
  if (log_->lastSeq() != appliedSeq_) return fail(Status::ok());
  CheckpointImage image;
  image.seq = log_->nextSeq() - 1;
  image.txnid = mdb_txn_id(pin);
  image.pageSize = ms.ms_psize;
  image.pages.resize(2 * ms.ms_psize);
  int fd = -1;
  mdb_env_get_fd(env_, &fd);
  if (::pread(fd, image.pages.data(), image.pages.size(), 0) != static_cast<ssize_t>(image.pages.size())) {
    return fail(Status::error(EIO, "checkpoint: cannot read the meta pages of " + dir_ + "/data.mdb"));
  }
  // The pages must describe the pinned snapshot (the layout of LMDB's meta page is assumed here).
  uint64_t newest = std::max(lmdbMetaTxnid(image.pages, image.pageSize, 0), lmdbMetaTxnid(image.pages, image.pageSize, 1));
  if (newest != image.txnid) {
    return fail(Status::error(EIO, "checkpoint: the meta pages of " + dir_ + "/data.mdb name transaction " +
                                       std::to_string(newest) + ", the snapshot is " + std::to_string(image.txnid)));
  }
  rc = mdb_env_sync(env_, 1);
  if (rc != 0) return fail(Status::error(rc > 0 ? rc : EIO, std::string("checkpoint: mdb_env_sync: ") + mdb_strerror(rc)));
  Status st = checkpoints_->write(image);
  if (!st.isOk()) return fail(st);
  // Durable: the previous snapshot may be reused now, and the log starts a new run.
  if (pin_ != nullptr) mdb_txn_abort(pin_);
  pin_ = pin;
  checkpointSeq_ = image.seq;
  lastCheckpointMs_ = steadyMs();
  log_->restart(image.seq + 1, appliedTerm_);
  noteLog();
  return Status::ok();
}

int64_t Store::checkpointDueInMs() const {
  if (log_ == nullptr || log_->runBytes() == 0) return -1;
  if (mayRestartLog_ && log_->runBytes() < 4 * kCheckpointBytes && !mayRestartLog_()) return -1;
  int64_t due = log_->runBytes() >= kCheckpointBytes ? 0 : lastCheckpointMs_ + kCheckpointMs;
  return std::max<int64_t>({0, due - steadyMs(), retryCheckpointMs_ - steadyMs()});
}

Status Store::checkpointIfDue() {
  if (checkpointDueInMs() != 0) return Status::ok();
  int64_t now = steadyMs();
  Status st = checkpoint();
  // A failing checkpoint (the disk) is retried, and reported, every few seconds, not every batch.
  retryCheckpointMs_ = st.isOk() ? 0 : now + kCheckpointRetryMs;
  return st;
}

Txn Store::beginRead() const {
  MDB_txn* t = nullptr;
  check(mdb_txn_begin(env_, nullptr, MDB_RDONLY, &t), "mdb_txn_begin(read)");
  return Txn(*this, t, false);
}

Txn Store::beginWrite() {
  MDB_txn* t = nullptr;
  check(mdb_txn_begin(env_, nullptr, 0, &t), "mdb_txn_begin(write)");
  return Txn(*this, t, true);
}

Status Store::openReadOnly() {
  MDB_txn* raw = nullptr;
  int rc = mdb_txn_begin(env_, nullptr, MDB_RDONLY, &raw);
  if (rc != 0) return Status::error(EIO, std::string("cannot begin a read transaction: ") + mdb_strerror(rc));
  for (int i = 0; i < static_cast<int>(Table::kCount); ++i) {
    rc = mdb_dbi_open(raw, kTableNames[i], 0, &dbis_[i]);
    if (rc != 0) {
      mdb_txn_abort(raw);
      return Status::error(EINVAL, std::string("no table ") + kTableNames[i] + " in " + dir_ + ": not a metadata store");
    }
  }
  MDB_val k = val("format_version"), v;
  rc = mdb_get(raw, dbis_[0], &k, &v);
  uint64_t version = rc == 0 && v.mv_size == 8 ? readBe64(view(v)) : 0;
  if (version != kFormatVersion) {
    mdb_txn_abort(raw);
    return Status::error(EINVAL, "metadata store in " + dir_ + " has format version " + std::to_string(version) +
                                     "; this basalt-meta reads only version " + std::to_string(kFormatVersion));
  }
  k = val("boots");
  boots_ = mdb_get(raw, dbis_[0], &k, &v) == 0 && v.mv_size == 8 ? readBe64(view(v)) : 0;
  rc = mdb_txn_commit(raw);  // keeps the table handles open
  if (rc != 0) return Status::error(EIO, std::string("cannot open the tables: ") + mdb_strerror(rc));
  return Status::ok();
}

Status Store::init(StoreDefaults defaults) {
  MDB_txn* raw = nullptr;
  int rc = mdb_txn_begin(env_, nullptr, 0, &raw);
  if (rc != 0) return Status::error(EIO, std::string("cannot begin the first transaction: ") + mdb_strerror(rc));
  Txn txn(*this, raw, true);
  for (int i = 0; i < static_cast<int>(Table::kCount); ++i) {
    rc = mdb_dbi_open(raw, kTableNames[i], MDB_CREATE, &dbis_[i]);
    if (rc != 0) {
      return Status::error(EIO, std::string("cannot open table ") + kTableNames[i] + " in " + dir_ + ": " +
                                    mdb_strerror(rc));
    }
  }
  auto version = txn.get(Table::kMeta, "format_version");
  if (!version) {
    if (txn.count(Table::kInodes) != 0) {
      return Status::error(EINVAL, "metadata store in " + dir_ + " has inodes but no format version");
    }
    txn.put(Table::kMeta, "format_version", be64(kFormatVersion));
    txn.put(Table::kMeta, "next_ino", be64(kRootIno + 1));
    timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    Inode root;
    root.ino = kRootIno;
    root.mode = S_IFDIR | 0755;
    root.nlink = 2;
    root.generation = 1;
    root.atime = root.mtime = root.ctime = Timespec{now.tv_sec, static_cast<uint32_t>(now.tv_nsec)};
    if (defaults.replicated) root.atime = root.mtime = root.ctime = Timespec{0, 0};
    root.parent = kRootIno;
    root.replication = defaults.replication;
    root.chunkSize = defaults.chunkSize;
    txn.put(Table::kInodes, inoKey(kRootIno), encodeInode(root));
  } else if (version->size() != 8 || readBe64(*version) != kFormatVersion) {
    uint64_t v = version->size() == 8 ? readBe64(*version) : 0;
    return Status::error(EINVAL, "metadata store in " + dir_ + " has format version " + std::to_string(v) +
                                     "; this basalt-meta reads only version " + std::to_string(kFormatVersion));
  }
  auto boots = txn.get(Table::kMeta, "boots");
  boots_ = (boots ? readBe64(*boots) : 0) + 1;
  txn.put(Table::kMeta, "boots", be64(boots_));
  rc = mdb_txn_commit(raw);
  txn.txn_ = nullptr;
  if (rc != 0) return Status::error(EIO, std::string("cannot initialise the metadata store: ") + mdb_strerror(rc));
  return Status::ok();
}

}  // namespace basalt::meta
