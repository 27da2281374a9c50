#include <capnp/message.h>
#include <doctest/doctest.h>

#include "server/status.h"

using basalt::Status;

TEST_CASE("a status survives the trip over the wire with its errno and message") {
  capnp::MallocMessageBuilder message;
  auto wire = message.initRoot<basalt::rpc::Status>();
  Status::error(ENOENT, "inode 42: no entry 'x'").toWire(wire);
  Status back = Status::fromWire(wire.asReader());
  CHECK(back.code() == ENOENT);
  CHECK(back.message() == "inode 42: no entry 'x'");
  CHECK_FALSE(back.isOk());
  CHECK(back.toString() == "ENOENT: inode 42: no entry 'x'");
}

TEST_CASE("a default status is success") {
  Status s;
  CHECK(s.isOk());
  CHECK(s.toString() == "ok");
}
