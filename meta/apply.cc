#include "meta/apply.h"

#include <capnp/serialize.h>
#include <kj/debug.h>

#include <string>
#include <vector>

#include "meta/commands/command.h"

namespace basalt::meta {
namespace {

Status dispatch(CommandContext& c) {
  switch (c.cmd.which()) {
    case rpc::Command::NOOP: return Status::ok();
    case rpc::Command::CREATE: return applyCreate(c);
    case rpc::Command::LINK: return applyLink(c);
    case rpc::Command::REMOVE: return applyRemove(c);
    case rpc::Command::RENAME: return applyRename(c);
    case rpc::Command::SET_ATTR: return applySetAttr(c);
    case rpc::Command::SET_XATTR: return applySetXattr(c);
    case rpc::Command::REMOVE_XATTR: return applyRemoveXattr(c);
    case rpc::Command::COMMIT_WRITE: return applyCommitWrite(c);
    case rpc::Command::RECLAIM: return applyReclaim(c);
    case rpc::Command::OPEN_SESSION: return applyOpenSession(c);
    case rpc::Command::CLOSE_SESSION: return applyCloseSession(c);
    case rpc::Command::SET_CHUNK: return applySetChunk(c);
    case rpc::Command::REGISTER_SERVER: return applyRegisterServer(c);
    case rpc::Command::DROP_GARBAGE: return applyDropGarbage(c);
    case rpc::Command::SET_LOCKS: return applySetLocks(c);
    case rpc::Command::SET_SERVER_DRAINING: return applySetServerDraining(c);
  }
  return Status::error(ENOSYS, "unknown command kind " + std::to_string(static_cast<int>(c.cmd.which())));
}

std::string encodeReply(capnp::MallocMessageBuilder& message) {
  auto words = capnp::messageToFlatArray(message);
  auto bytes = words.asBytes();
  return std::string(reinterpret_cast<const char*>(bytes.begin()), bytes.size());
}

// Copies a stored Reply into `message`; false when the record cannot be read.
bool decodeReply(std::string_view stored, capnp::MallocMessageBuilder& message) {
  if (stored.size() % sizeof(capnp::word) != 0) return false;
  auto words = kj::heapArray<capnp::word>(stored.size() / sizeof(capnp::word));
  memcpy(words.begin(), stored.data(), stored.size());
  bool ok = false;
  KJ_IF_MAYBE(e, kj::runCatchingExceptions([&]() {
                capnp::FlatArrayMessageReader reader(words);
                message.setRoot(reader.getRoot<rpc::Reply>());
                ok = true;
              })) {
    (void)e;
  }
  return ok;
}

void pruneDedup(Txn& txn, uint64_t session, uint64_t seq) {
  if (seq <= kDedupWindow) return;
  std::vector<std::string> old;
  txn.scan(Table::kDedup, be64(session), [&](std::string_view k, std::string_view) {
    if (readBe64(k, 8) > seq - kDedupWindow) return false;
    old.emplace_back(k);
    return true;
  });
  for (auto& k : old) txn.del(Table::kDedup, k);
}

}  // namespace

Applied apply(rpc::Command::Reader cmd, Txn& txn) {
  Applied out;
  out.message = kj::heap<capnp::MallocMessageBuilder>();
  uint64_t session = cmd.getSession(), seq = cmd.getSeq();
  bool dedup = session != 0 && seq != 0;
  if (dedup) {
    auto stored = txn.get(Table::kDedup, dedupKey(session, seq));
    if (stored && decodeReply(*stored, *out.message)) {
      out.effects.replayed = true;
      return out;
    }
  }

  Status status;
  {
    Txn child = txn.child();
    CommandContext c{cmd, child, Cred::fromWire(cmd.getCred()), Timespec{cmd.getTime().getSec(), cmd.getTime().getNsec()},
                     out.message->initRoot<rpc::Reply>(), out.effects};
    KJ_IF_MAYBE(e, kj::runCatchingExceptions([&]() { status = dispatch(c); })) {
      status = Status::error(EIO, "store failure: " + std::string(e->getDescription().cStr()));
    }
    if (status.isOk()) {
      child.commit();
    } else {
      child.abort();
    }
  }
  if (!status.isOk()) {
    // Nothing of a failed command survives: a fresh reply with only the status.
    out.message = kj::heap<capnp::MallocMessageBuilder>();
    out.effects = Effects{};
  }
  status.toWire(out.message->getRoot<rpc::Reply>().initStatus());
  if (dedup) {
    txn.put(Table::kDedup, dedupKey(session, seq), encodeReply(*out.message));
    pruneDedup(txn, session, seq);
  }
  return out;
}

}  // namespace basalt::meta
