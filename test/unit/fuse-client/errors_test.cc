#include <doctest/doctest.h>

#include <capnp/message.h>

#include "fuse-client/errors.h"

using namespace basalt::client;

TEST_CASE("a wire errno passes through unchanged") {
  CHECK(errnoFromStatus(0) == 0);
  CHECK(errnoFromStatus(ENOENT) == ENOENT);
  CHECK(errnoFromStatus(EEXIST) == EEXIST);
  CHECK(errnoFromStatus(ENOTEMPTY) == ENOTEMPTY);
  CHECK(errnoFromStatus(ESTALE) == ESTALE);
  CHECK(errnoFromStatus(ENODATA) == ENODATA);
}

TEST_CASE("a negative errno is taken as its positive value") {
  CHECK(errnoFromStatus(-EACCES) == EACCES);
}

TEST_CASE("unknown codes become EIO and ENOSYS becomes EOPNOTSUPP") {
  CHECK(errnoFromStatus(100000) == EIO);
  CHECK(errnoFromStatus(-100000) == EIO);
  CHECK(errnoFromStatus(4000) == EIO);
  CHECK(errnoFromStatus(ENOSYS) == EOPNOTSUPP);
}

TEST_CASE("a wire Status maps through the same function") {
  capnp::MallocMessageBuilder msg;
  auto s = msg.initRoot<basalt::rpc::Status>();
  s.setCode(ENOTDIR);
  s.setMessage("inode 7 is not a directory");
  CHECK(errnoFromStatus(s.asReader()) == ENOTDIR);
}

TEST_CASE("an errno exception carries its errno and message; others are EIO") {
  auto e = errnoException(EINTR, "lookup 1/x: interrupted");
  CHECK(isErrnoException(e));
  CHECK(errnoFromException(e) == EINTR);
  CHECK(describeException(e) == "lookup 1/x: interrupted");
  kj::Exception other(kj::Exception::Type::DISCONNECTED, __FILE__, __LINE__,
                      kj::str("connect(): Connection refused"));
  CHECK_FALSE(isErrnoException(other));
  CHECK(errnoFromException(other) == EIO);
  CHECK(describeException(other) == "connection refused");
}
