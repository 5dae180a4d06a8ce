// tests/io/stream_test.cpp — io::Stream on a real ring against real peers on loopback:
// connect deadline on a black-holed address, TLS against `openssl s_server`, SNI, and the
// verify policy. Skips (GTEST_SKIP) without io_uring or without the openssl command.
#include "io/stream.hpp"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "io/tls_context.hpp"

extern char** environ;

namespace ringmail::io {
namespace {

// A ring with one stream, recording what the stream says.
struct Client final : Handler {
    Client() : ring(64) {
        ring.start();
        id = ring.add(*this);
        buffers.emplace(ring.raw(), 8, 4096, 0);
        stream = std::make_unique<Stream>(ring, *buffers, id, 7);
    }
    ~Client() {
        stream.reset();  // closes its socket
    }
    void on_completion(const io_uring_cqe& cqe, std::uint64_t payload) noexcept override {
        EXPECT_EQ(Stream::name_of(payload), 7u);
        auto emit = [this](StreamEvent e, std::string_view b) noexcept {
            events.push_back(e);
            if (e == StreamEvent::Data) received.append(b);
            if (e == StreamEvent::Writable) stream->send(out);
        };
        stream->on_completion(cqe, payload, emit);
        buffers->publish();
    }
    bool saw(StreamEvent e) const { return std::find(events.begin(), events.end(), e) != events.end(); }
    // Turns the ring until `done()` or 20 s without progress (a failure, not a hang).
    template <class P>
    void run_until(P done) {
        for (int idle = 0; !done() && idle < 20;) {
            static constexpr __kernel_timespec kSecond{1, 0};
            if (ring.turn(&kSecond) == 0) ++idle;
        }
    }

    Ring ring;
    std::uint8_t id = 0;
    std::optional<BufferRing> buffers;
    std::unique_ptr<Stream> stream;
    std::vector<StreamEvent> events;
    std::string received;
    std::string out;
};

std::unique_ptr<Client> try_client() {
    try {
        return std::make_unique<Client>();
    } catch (const std::runtime_error&) {
        return nullptr;
    }
}

sockaddr_in loopback(std::uint16_t port) {
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    return a;
}

std::uint16_t port_of(int fd) {
    sockaddr_in a{};
    socklen_t len = sizeof a;
    ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
    return ntohs(a.sin_port);
}

// A listening socket whose accept queue is full and never drained: the kernel drops
// further SYNs, so a connect to it neither completes nor fails by itself.
TEST(Stream, ConnectDeadlineOnBlackHoledAddress) {
    auto c = try_client();
    if (!c) GTEST_SKIP() << "no io_uring here";
    const int l = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in a = loopback(0);
    ASSERT_EQ(::bind(l, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
    ASSERT_EQ(::listen(l, 0), 0);
    a = loopback(port_of(l));
    std::vector<int> fillers;
    for (int i = 0; i < 4; ++i) {  // backlog 0 holds one; the rest wait in SYN retries
        const int f = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
        (void)::connect(f, reinterpret_cast<sockaddr*>(&a), sizeof a);
        fillers.push_back(f);
    }
    ASSERT_TRUE(c->stream->connect(reinterpret_cast<sockaddr*>(&a), sizeof a, 300));
    c->run_until([&] { return c->saw(StreamEvent::Connected) || c->saw(StreamEvent::Failed); });
    EXPECT_TRUE(c->saw(StreamEvent::Failed));
    EXPECT_FALSE(c->saw(StreamEvent::Connected));
    EXPECT_EQ(c->stream->error(), ETIMEDOUT);
    c->stream->close();
    c->run_until([&] { return c->stream->ops() == 0; });
    EXPECT_EQ(c->stream->ops(), 0u);
    for (int f : fillers) ::close(f);
    ::close(l);
}

TEST(Stream, ConnectRefusedIsFailed) {
    auto c = try_client();
    if (!c) GTEST_SKIP() << "no io_uring here";
    const int l = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in a = loopback(0);
    ASSERT_EQ(::bind(l, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
    a = loopback(port_of(l));
    ::close(l);  // nobody listens there now
    ASSERT_TRUE(c->stream->connect(reinterpret_cast<sockaddr*>(&a), sizeof a, 5000));
    c->run_until([&] { return c->saw(StreamEvent::Connected) || c->saw(StreamEvent::Failed); });
    EXPECT_TRUE(c->saw(StreamEvent::Failed));
    EXPECT_EQ(c->stream->error(), ECONNREFUSED);
}

// `openssl s_server -rev` on a free loopback port with a self-signed certificate for
// localhost and mx.test, answering only the name mx.test in SNI (a fatal alert for another name).
class OpensslServer {
public:
    OpensslServer() {
        char tmpl[] = "/tmp/ringmail-io-XXXXXX";
        if (!::mkdtemp(tmpl)) return;
        dir_ = tmpl;
        const std::string gen = "openssl req -x509 -newkey rsa:2048 -nodes -subj /CN=localhost "
                                "-addext subjectAltName=DNS:localhost,DNS:mx.test -days 2 -keyout " + dir_ + "/k.pem -out " +
                                dir_ + "/c.pem >/dev/null 2>&1";
        if (std::system(gen.c_str()) != 0) return;
        const int probe = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        sockaddr_in a = loopback(0);
        ::bind(probe, reinterpret_cast<sockaddr*>(&a), sizeof a);
        port_ = port_of(probe);
        ::close(probe);
        int out[2];
        if (::pipe(out) != 0) return;
        posix_spawn_file_actions_t fa;
        posix_spawn_file_actions_init(&fa);
        posix_spawn_file_actions_adddup2(&fa, out[1], 1);
        posix_spawn_file_actions_adddup2(&fa, out[1], 2);
        posix_spawn_file_actions_addclose(&fa, out[0]);
        const std::string accept = "127.0.0.1:" + std::to_string(port_);
        const std::string crt = dir_ + "/c.pem", key = dir_ + "/k.pem";
        std::vector<std::string> args = {"openssl", "s_server", "-accept", accept, "-cert", crt, "-key", key,
                                         "-cert2", crt, "-key2", key, "-servername", "mx.test",
                                         "-servername_fatal", "-rev"};
        std::vector<char*> argv;
        for (auto& s : args) argv.push_back(s.data());
        argv.push_back(nullptr);
        const int rc = ::posix_spawnp(&pid_, "openssl", &fa, nullptr, argv.data(), environ);
        posix_spawn_file_actions_destroy(&fa);
        ::close(out[1]);
        if (rc != 0) {
            pid_ = -1;
            ::close(out[0]);
            return;
        }
        // Ready once it says ACCEPT (it prints nothing else first but set-up lines).
        std::string seen;
        char buf[256];
        while (seen.find("ACCEPT") == std::string::npos) {
            const ssize_t n = ::read(out[0], buf, sizeof buf);
            if (n <= 0) break;
            seen.append(buf, static_cast<std::size_t>(n));
        }
        out_fd_ = out[0];
        ready_ = seen.find("ACCEPT") != std::string::npos;
    }
    ~OpensslServer() {
        if (pid_ > 0) {
            ::kill(pid_, SIGTERM);
            ::waitpid(pid_, nullptr, 0);
        }
        if (out_fd_ >= 0) ::close(out_fd_);
        if (!dir_.empty()) std::system(("rm -rf " + dir_).c_str());
    }
    bool ready() const { return ready_; }
    sockaddr_in address() const { return loopback(port_); }
    std::string ca_file() const { return dir_ + "/c.pem"; }

private:
    std::string dir_;
    std::uint16_t port_ = 0;
    pid_t pid_ = -1;
    int out_fd_ = -1;
    bool ready_ = false;
};

// Connects, starts TLS with `ctx` naming `sni`, sends a line once TLS is up and runs until
// the reversed line comes back or the handshake fails.
void talk_tls(Client& c, const OpensslServer& srv, SSL_CTX* ctx, const std::string& sni, bool verify_name) {
    sockaddr_in a = srv.address();
    ASSERT_TRUE(c.stream->connect(reinterpret_cast<sockaddr*>(&a), sizeof a, 5000));
    c.run_until([&] { return c.saw(StreamEvent::Connected) || c.saw(StreamEvent::Failed); });
    ASSERT_TRUE(c.saw(StreamEvent::Connected));
    std::string none;
    ASSERT_TRUE(c.stream->start_tls(ctx, TlsStream::Side::Client, c.ring.now_ms() + 10'000, none, sni, verify_name));
    c.stream->send(c.out);  // the ClientHello
    c.out = "hello ringmail\n";  // waits in `out` until TLS is up, then goes encrypted
    c.run_until([&] {
        return c.received.find('\n') != std::string::npos || c.saw(StreamEvent::TlsFailed) ||
               c.saw(StreamEvent::Failed) || c.saw(StreamEvent::PeerClosed);
    });
}

TEST(Stream, TlsAgainstOpensslServer) {
    OpensslServer srv;
    if (!srv.ready()) GTEST_SKIP() << "openssl s_server could not be started";
    auto c = try_client();
    if (!c) GTEST_SKIP() << "no io_uring here";
    SslCtxPtr ctx = make_client_tls_context(TlsPolicy::Opportunistic);
    talk_tls(*c, srv, ctx.get(), "mx.test", false);
    EXPECT_TRUE(c->saw(StreamEvent::TlsReady));
    EXPECT_EQ(c->received, "liamgnir olleh\n");  // s_server -rev reverses each line
    ASSERT_NE(c->stream->tls(), nullptr);
    EXPECT_NE(c->stream->tls()->describe().find("TLSv1."), std::string::npos);
}

// s_server answers only SNI mx.test: another name gets a fatal unrecognized_name alert,
// which shows that the name we give is the one sent.
TEST(Stream, SniIsSent) {
    OpensslServer srv;
    if (!srv.ready()) GTEST_SKIP() << "openssl s_server could not be started";
    auto c = try_client();
    if (!c) GTEST_SKIP() << "no io_uring here";
    SslCtxPtr ctx = make_client_tls_context(TlsPolicy::Opportunistic);
    talk_tls(*c, srv, ctx.get(), "other.test", false);
    EXPECT_TRUE(c->saw(StreamEvent::TlsFailed));
    EXPECT_FALSE(c->saw(StreamEvent::TlsReady));
    EXPECT_TRUE(c->received.empty());
}

TEST(Stream, VerifyPolicyRefusesSelfSignedCertificate) {
    OpensslServer srv;
    if (!srv.ready()) GTEST_SKIP() << "openssl s_server could not be started";
    auto c = try_client();
    if (!c) GTEST_SKIP() << "no io_uring here";
    SslCtxPtr ctx = make_client_tls_context(TlsPolicy::Verify);  // the system trust store
    talk_tls(*c, srv, ctx.get(), "mx.test", false);
    EXPECT_TRUE(c->saw(StreamEvent::TlsFailed));
    EXPECT_FALSE(c->saw(StreamEvent::TlsReady));
    ASSERT_NE(c->stream->tls(), nullptr);
    EXPECT_NE(c->stream->tls()->failure().find("self-signed"), std::string::npos) << c->stream->tls()->failure();
}

TEST(Stream, VerifyPolicyAcceptsCertificateFromCaFile) {
    OpensslServer srv;
    if (!srv.ready()) GTEST_SKIP() << "openssl s_server could not be started";
    auto c = try_client();
    if (!c) GTEST_SKIP() << "no io_uring here";
    SslCtxPtr ctx = make_client_tls_context(TlsPolicy::Verify, srv.ca_file());
    // The chain from the CA file, and the host name: the certificate names mx.test.
    talk_tls(*c, srv, ctx.get(), "mx.test", true);
    EXPECT_TRUE(c->saw(StreamEvent::TlsReady));
    EXPECT_EQ(c->received, "liamgnir olleh\n");
}

}  // namespace
}  // namespace ringmail::io
