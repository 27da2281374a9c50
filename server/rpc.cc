#include "server/rpc.h"

#include <kj/debug.h>

namespace basalt {

capnp::ReaderOptions rpcReaderOptions() {
  capnp::ReaderOptions options;
  options.traversalLimitInWords = kMaxMessageBytes / sizeof(capnp::word);
  options.nestingLimit = 64;
  return options;
}

bool isDisconnect(const kj::Exception& e) {
  return e.getType() == kj::Exception::Type::DISCONNECTED ||
         e.getType() == kj::Exception::Type::OVERLOADED;
}

// ---- server ----------------------------------------------------------------------------------

struct RpcServer::Connection {
  Connection(kj::Own<kj::AsyncIoStream>&& s, capnp::Capability::Client bootstrap)
      : stream(kj::mv(s)),
        network(*stream, capnp::rpc::twoparty::Side::SERVER, rpcReaderOptions()),
        rpc(capnp::makeRpcServer(network, kj::mv(bootstrap))) {}
  kj::Own<kj::AsyncIoStream> stream;
  capnp::TwoPartyVatNetwork network;
  capnp::RpcSystem<capnp::rpc::twoparty::VatId> rpc;
};

void TaskLogger::taskFailed(kj::Exception&& e) {
  if (isDisconnect(e)) {
    log_->debug("connection ended: {}", e.getDescription().cStr());
  } else {
    log_->warn("background task failed: {}", kj::str(e).cStr());
  }
}

RpcServer::RpcServer(EventLoop& loop, capnp::Capability::Client bootstrap, Logger log)
    : loop_(loop),
      bootstrap_(kj::mv(bootstrap)),
      log_(log),
      taskLogger_(log),
      tasks_(kj::heap<kj::TaskSet>(taskLogger_)) {}

RpcServer::~RpcServer() { stop(); }

kj::Promise<uint> RpcServer::listen(kj::StringPtr address) {
  return loop_.network().parseAddress(address).then([this](kj::Own<kj::NetworkAddress> addr) {
    listener_ = addr->listen();
    uint port = listener_->getPort();
    tasks_->add(acceptLoop());
    return port;
  });
}

kj::Promise<void> RpcServer::acceptLoop() {
  return listener_->accept().then([this](kj::Own<kj::AsyncIoStream>&& stream) {
    auto conn = kj::heap<Connection>(kj::mv(stream), bootstrap_);
    auto done = conn->network.onDisconnect();
    tasks_->add(done.attach(kj::mv(conn)));
    return acceptLoop();
  });
}

void RpcServer::stop() {
  listener_ = nullptr;
  tasks_ = kj::heap<kj::TaskSet>(taskLogger_);
}

// ---- client ----------------------------------------------------------------------------------

struct RpcClient::Connection {
  explicit Connection(kj::Own<kj::AsyncIoStream>&& s)
      : stream(kj::mv(s)),
        network(*stream, capnp::rpc::twoparty::Side::CLIENT, rpcReaderOptions()),
        rpc(capnp::makeRpcClient(network)),
        disconnected(network.onDisconnect().fork()) {
    capnp::word scratch[4];
    memset(scratch, 0, sizeof(scratch));
    capnp::MallocMessageBuilder message(scratch);
    auto vatId = message.getRoot<capnp::rpc::twoparty::VatId>();
    vatId.setSide(capnp::rpc::twoparty::Side::SERVER);
    bootstrap = rpc.bootstrap(vatId);
  }
  kj::Own<kj::AsyncIoStream> stream;
  capnp::TwoPartyVatNetwork network;
  capnp::RpcSystem<capnp::rpc::twoparty::VatId> rpc;
  capnp::Capability::Client bootstrap = nullptr;
  kj::ForkedPromise<void> disconnected;
};

RpcClient::RpcClient(EventLoop& loop, std::string address)
    : loop_(loop), address_(std::move(address)) {}

RpcClient::~RpcClient() = default;

kj::Promise<capnp::Capability::Client> RpcClient::bootstrap(uint32_t timeoutMs) {
  if (conn_) return conn_->bootstrap;
  auto connect = loop_.network()
                     .parseAddress(address_)
                     .then([](kj::Own<kj::NetworkAddress> addr) {
                       return addr->connect().attach(kj::mv(addr));
                     });
  return loop_.timer()
      .timeoutAfter(timeoutMs * kj::MILLISECONDS, kj::mv(connect))
      .then(
          [this](kj::Own<kj::AsyncIoStream>&& stream) -> capnp::Capability::Client {
            // A concurrent bootstrap() may have connected first; keep the first connection.
            if (!conn_) conn_ = kj::heap<Connection>(kj::mv(stream));
            return conn_->bootstrap;
          },
          [this](kj::Exception&& e) -> capnp::Capability::Client {
            kj::throwFatalException(kj::Exception(kj::Exception::Type::DISCONNECTED, __FILE__,
                                                  __LINE__,
                                                  kj::str("cannot reach ", address_.c_str(), ": ",
                                                          e.getDescription())));
          });
}

void RpcClient::reset() { conn_ = nullptr; }

kj::Promise<void> RpcClient::onDisconnect() {
  if (!conn_) return kj::READY_NOW;
  return conn_->disconnected.addBranch();
}

}  // namespace basalt
