#include "chunk/op.h"

#include "server/compression.h"

namespace basalt::chunk {
namespace {

Bytes copyOf(capnp::Data::Reader d) { return std::make_shared<const std::vector<uint8_t>>(d.begin(), d.end()); }

// A write piece from the wire: its raw bytes, or (rawLength != 0) its frame, bounds checked.
Result<Payload> pieceFromWire(rpc::ChunkOp::Write::Reader w, const char* what) {
  Payload p{copyOf(w.getData()), w.getRawLength()};
  if (uint64_t{w.getOffset()} + p.size() > kMaxChunkLength) {
    return Status::error(EFBIG, std::string(what) + " ends beyond the largest chunk");
  }
  return p;
}

void pieceToWire(rpc::ChunkOp::Write::Builder out, uint32_t offset, const uint8_t* raw, size_t rawSize,
                 const Payload* wire) {
  out.setOffset(offset);
  if (wire != nullptr && wire->packed()) {
    out.setData(kj::arrayPtr(wire->bytes->data(), wire->bytes->size()));
    out.setRawLength(wire->rawLength);
  } else {
    out.setData(kj::arrayPtr(raw, rawSize));
  }
}

}  // namespace

Payload Payload::pack(Bytes raw) {
  if (!raw) return Payload{};
  auto packed = compression::packIfSmaller(raw->data(), raw->size());
  if (!packed) return Payload{kj::mv(raw), 0};
  return Payload{std::make_shared<const std::vector<uint8_t>>(std::move(*packed)),
                 static_cast<uint32_t>(raw->size())};
}

Result<Bytes> Payload::unpack() const {
  if (!packed()) return bytes ? bytes : std::make_shared<const std::vector<uint8_t>>();
  auto raw = compression::unpack(bytes->data(), bytes->size(), rawLength);
  if (!raw.isOk()) return raw.status();
  return Bytes(std::make_shared<const std::vector<uint8_t>>(std::move(*raw)));
}

Result<Op> Op::fromWire(rpc::ChunkOp::Reader in) {
  Op op;
  switch (in.which()) {
    case rpc::ChunkOp::WRITE: {
      auto w = in.getWrite();
      auto piece = pieceFromWire(w, "write");
      if (!piece.isOk()) return piece.status();
      op.kind = Kind::kWrite;
      op.offset = w.getOffset();
      if (piece->packed()) {
        op.wire = std::make_shared<const std::vector<Payload>>(1, *piece);
        op.needsUnpack = true;
      } else {
        op.data = piece->bytes;
      }
      return op;
    }
    case rpc::ChunkOp::TRUNCATE:
      op.kind = Kind::kTruncate;
      op.length = in.getTruncate().getLength();
      if (op.length > kMaxChunkLength) return Status::error(EFBIG, "truncate beyond the largest chunk");
      return op;
    case rpc::ChunkOp::ZERO:
      op.kind = Kind::kZero;
      op.offset = in.getZero().getOffset();
      op.length = in.getZero().getLength();
      return op;
    case rpc::ChunkOp::NEW_VERSION:
      op.kind = Kind::kNewVersion;
      op.newVersion = in.getNewVersion();
      return op;
    case rpc::ChunkOp::WRITES: {
      auto list = in.getWrites();
      if (list.size() == 0) return Status::error(EINVAL, "a batch of no writes");
      auto writes = std::make_shared<std::vector<WriteExtent>>();
      auto wire = std::make_shared<std::vector<Payload>>();
      writes->reserve(list.size());
      for (auto w : list) {
        auto piece = pieceFromWire(w, "a batched write");
        if (!piece.isOk()) return piece.status();
        op.needsUnpack = op.needsUnpack || piece->packed();
        if (piece->packed()) {
          writes->push_back(WriteExtent{w.getOffset(), {}});
          wire->push_back(kj::mv(*piece));
        } else {
          writes->push_back(WriteExtent{w.getOffset(), *piece->bytes});
          wire->push_back(Payload{});  // raw: the extent holds the bytes
        }
      }
      op.kind = Kind::kWrites;
      op.writes = kj::mv(writes);
      if (op.needsUnpack) op.wire = kj::mv(wire);
      return op;
    }
  }
  return Status::error(EINVAL, "unknown chunk op");
}

void Op::toWire(rpc::ChunkOp::Builder out) const {
  switch (kind) {
    case Kind::kWrite:
      pieceToWire(out.initWrite(), offset, data ? data->data() : nullptr, data ? data->size() : 0,
                  wire ? &(*wire)[0] : nullptr);
      break;
    case Kind::kTruncate: out.initTruncate().setLength(length); break;
    case Kind::kZero: {
      auto z = out.initZero();
      z.setOffset(offset);
      z.setLength(length);
      break;
    }
    case Kind::kNewVersion: out.setNewVersion(newVersion); break;
    case Kind::kWrites: {
      auto list = out.initWrites(static_cast<unsigned>(writes->size()));
      for (size_t i = 0; i < writes->size(); ++i) {
        const auto& w = (*writes)[i];
        pieceToWire(list[static_cast<unsigned>(i)], w.offset, w.data.data(), w.data.size(),
                    wire ? &(*wire)[i] : nullptr);
      }
      break;
    }
  }
}

void Op::pack() {
  if (needsUnpack || wire) return;
  auto out = std::make_shared<std::vector<Payload>>();
  bool any = false;
  if (kind == Kind::kWrite) {
    out->push_back(Payload::pack(data));
    any = out->back().packed();
  } else if (kind == Kind::kWrites) {
    for (const auto& w : *writes) {
      auto packed = compression::packIfSmaller(w.data.data(), w.data.size());
      if (packed) {
        out->push_back(Payload{std::make_shared<const std::vector<uint8_t>>(std::move(*packed)),
                               static_cast<uint32_t>(w.data.size())});
        any = true;
      } else {
        out->push_back(Payload{});  // raw: toWire sends the extent's own bytes
      }
    }
  }
  if (any) wire = kj::mv(out);
}

Status Op::unpack() {
  if (!needsUnpack) return Status::ok();
  if (kind == Kind::kWrite) {
    auto raw = (*wire)[0].unpack();
    if (!raw.isOk()) return Status::error(EINVAL, "write at " + std::to_string(offset) + ": " + raw.status().message());
    data = *raw;
  } else if (kind == Kind::kWrites) {
    auto out = std::make_shared<std::vector<WriteExtent>>(*writes);
    for (size_t i = 0; i < out->size(); ++i) {
      const Payload& p = (*wire)[i];
      if (!p.packed()) continue;
      auto raw = p.unpack();
      if (!raw.isOk()) {
        return Status::error(EINVAL, "batched write " + std::to_string(i) + " at " +
                                         std::to_string((*out)[i].offset) + ": " + raw.status().message());
      }
      (*out)[i].data = **raw;
    }
    writes = kj::mv(out);
  }
  needsUnpack = false;
  return Status::ok();
}

size_t Op::dataSize() const {
  if (kind == Kind::kWrite) return wire ? (*wire)[0].size() : (data ? data->size() : 0);
  if (kind != Kind::kWrites) return 0;
  size_t n = 0;
  for (size_t i = 0; i < writes->size(); ++i) {
    n += wire && (*wire)[i].packed() ? (*wire)[i].rawLength : (*writes)[i].data.size();
  }
  return n;
}

size_t Op::wireSize() const {
  if (kind == Kind::kWrite) return wire ? (*wire)[0].wireSize() : (data ? data->size() : 0);
  if (kind != Kind::kWrites) return 0;
  size_t n = 0;
  for (size_t i = 0; i < writes->size(); ++i) {
    n += wire && (*wire)[i].packed() ? (*wire)[i].wireSize() : (*writes)[i].data.size();
  }
  return n;
}

std::string Op::describe() const {
  switch (kind) {
    case Kind::kWrite: return "write " + std::to_string(dataSize()) + "@" + std::to_string(offset);
    case Kind::kTruncate: return "truncate " + std::to_string(length);
    case Kind::kZero: return "zero " + std::to_string(length) + "@" + std::to_string(offset);
    case Kind::kNewVersion: return "new version " + std::to_string(newVersion);
    case Kind::kWrites:
      return std::to_string(writes->size()) + " writes of " + std::to_string(dataSize()) + " bytes";
  }
  return "?";
}

}  // namespace basalt::chunk
