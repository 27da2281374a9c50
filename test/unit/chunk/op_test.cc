#include <doctest/doctest.h>

#include <capnp/message.h>

#include <random>

#include "chunk/op.h"
#include "test_util.h"

using namespace basalt;
using namespace basalt::chunk;

namespace {

std::vector<uint8_t> repetitive(size_t n, uint8_t seed) {
  std::vector<uint8_t> out(n);
  for (size_t i = 0; i < n; ++i) out[i] = static_cast<uint8_t>(seed + (i % 61) / 7);
  return out;
}

std::vector<uint8_t> noise(size_t n, unsigned seed) {
  std::mt19937 rng(seed);
  return test::randomBytes(rng, n);
}

// What a backup decodes from what the primary sends for `op`.
Result<Op> overTheWire(const Op& op) {
  capnp::MallocMessageBuilder m;  // fromWire copies what it keeps
  auto b = m.initRoot<rpc::ChunkOp>();
  op.toWire(b);
  return Op::fromWire(b.asReader());
}

}  // namespace

TEST_CASE("a packed batch travels compressed where it pays and unpacks to the same writes") {
  auto writes = std::make_shared<std::vector<WriteExtent>>();
  writes->push_back(WriteExtent{0, repetitive(64 * 1024, 1)});
  writes->push_back(WriteExtent{70000, noise(64 * 1024, 2)});
  writes->push_back(WriteExtent{200000, repetitive(100, 3)});  // too small to bother
  Op op;
  op.kind = Op::Kind::kWrites;
  op.writes = writes;
  op.pack();
  REQUIRE(op.wire.get() != nullptr);
  CHECK((*op.wire)[0].packed());
  CHECK_FALSE((*op.wire)[1].packed());
  CHECK_FALSE((*op.wire)[2].packed());
  CHECK(op.dataSize() == 64 * 1024 * 2 + 100);
  CHECK(op.wireSize() < 64 * 1024 + 100 + 8 * 1024);

  auto got = overTheWire(op);
  REQUIRE_MESSAGE(got.isOk(), got.status().toString());
  CHECK(got->needsUnpack);
  CHECK(got->dataSize() == op.dataSize());
  REQUIRE(got->unpack().isOk());
  REQUIRE(got->writes->size() == 3);
  for (size_t i = 0; i < 3; ++i) {
    CHECK((*got->writes)[i].offset == (*writes)[i].offset);
    CHECK((*got->writes)[i].data == (*writes)[i].data);
  }
}

TEST_CASE("a single write: compressible packs, random stays raw, both arrive intact") {
  for (bool compressible : {true, false}) {
    CAPTURE(compressible);
    auto bytes = compressible ? repetitive(1 << 20, 9) : noise(1 << 20, 9);
    Op op;
    op.kind = Op::Kind::kWrite;
    op.offset = 4096;
    op.data = std::make_shared<const std::vector<uint8_t>>(bytes);
    op.pack();
    CHECK(static_cast<bool>(op.wire) == compressible);
    auto got = overTheWire(op);
    REQUIRE(got.isOk());
    CHECK(got->needsUnpack == compressible);
    REQUIRE(got->unpack().isOk());
    CHECK(got->offset == 4096);
    CHECK(*got->data == bytes);
    CHECK(got->describe() == "write 1048576@4096");
  }
}

TEST_CASE("a compressed write that claims to end past the largest chunk, or is corrupt, is refused") {
  capnp::MallocMessageBuilder m;
  auto w = m.initRoot<rpc::ChunkOp>().initWrite();
  std::vector<uint8_t> junk(100, 1);
  w.setOffset(static_cast<uint32_t>(kMaxChunkLength - 10));
  w.setData(kj::arrayPtr(junk.data(), junk.size()));
  w.setRawLength(11);
  CHECK(Op::fromWire(m.getRoot<rpc::ChunkOp>().asReader()).status().code() == EFBIG);

  w.setOffset(0);
  w.setRawLength(5000);
  auto op = Op::fromWire(m.getRoot<rpc::ChunkOp>().asReader());
  REQUIRE(op.isOk());
  Status st = op->unpack();
  CHECK(st.code() == EINVAL);
  CHECK(st.message().find("write at 0") != std::string::npos);
}
