// engine/reactor.hpp — one io_uring event loop per thread: SO_REUSEPORT listeners (plain,
// and implicit TLS when configured) with multishot accept, multishot recv from a
// provided-buffer ring, replies coalesced into one send per connection per batch of
// completions. TLS runs over memory BIOs, so it too is only bytes in and bytes out.
// Never blocks, never runs handler code (invariant 1); its sessions and their TLS state
// never leave it (invariant 2).
#pragma once
#include <liburing.h>

#include <atomic>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "engine/buffer_ring.hpp"
#include "engine/config.hpp"
#include "engine/handler_pool.hpp"
#include "engine/job.hpp"
#include "engine/mpmc_queue.hpp"
#include "engine/tls_stream.hpp"
#include "mime/stream_parser.hpp"
#include "proto/server_session.hpp"

namespace ringmail::engine {

// Read-only after start, shared by every reactor.
struct Shared {
    Config config;
    std::string hostname;
    proto::Features features;   // starttls: a certificate is loaded
    Sink* pool = nullptr;       // runs on_rcpt / on_auth when the user set them
    bool ask_rcpt = false;
    bool ask_auth = false;
    Sink* mail_sink = nullptr;  // nullptr: accept and drop (the discard handler)
    std::atomic<bool> stopping{false};
};

struct Connection {
    Connection(const Shared& s, proto::Features f)
        : session(s.config.limits, f, s.hostname) {}
    int fd = -1;
    proto::ServerSession session;
    std::unique_ptr<TlsStream> tls;  // after STARTTLS, or from the start on the TLS port
    std::string clear_out;      // plaintext that must leave before any TLS bytes (the 220)
    proto::Timestamp handshake_deadline = 0;
    bool handshaking = false;   // TLS handshake not finished; bounded by the deadline
    bool implicit_tls = false;  // accepted on tls_port: greet once the handshake is done
    std::string pending;        // input not yet consumed (split line, or held while waiting)
    std::size_t pending_off = 0;
    std::string sending;        // bytes of the send in flight
    std::size_t sent = 0;
    std::string ip;
    // The MIME parser reads along while DATA arrives; allocated per message only.
    std::unique_ptr<mime::StreamParser> mime;
    std::uint32_t mime_seq = 0;
    std::size_t mime_fed = 0;
    Connection* prev = nullptr;
    Connection* next = nullptr;
    unsigned ops = 0;           // io_uring requests in flight naming this connection
    bool recv_armed = false;
    bool recv_paused = false;   // backpressure while a handler decides
    bool send_armed = false;
    bool waiting = false;       // a job is out; its verdict will come back
    bool closing = false;       // read no more; close once the output is sent
    bool eof = false;           // the client shut down its sending side
    bool dead = false;          // socket closed; freed when ops == 0 and not waiting
    bool dirty = false;         // in the flush list
};

class Reactor {
public:
    // tls_listen_fd: the implicit TLS listener, or -1.
    Reactor(Shared& shared, int listen_fd, int tls_listen_fd = -1);
    ~Reactor();
    Reactor(const Reactor&) = delete;
    Reactor& operator=(const Reactor&) = delete;

    void run();                      // the thread body; returns after shutdown
    void post(Result&& r) noexcept;  // from any thread: a verdict for one of our sessions
    void wake() noexcept;            // from any thread: look at Shared::stopping
    // From any thread: new handshakes use `ctx` from now on (SIGHUP reload); connections
    // keep the context they started with. Takes its own reference.
    void set_tls_context(SSL_CTX* ctx) noexcept;

private:
    io_uring_sqe* sqe() noexcept;
    void arm_accept(bool tls) noexcept;
    void arm_wake() noexcept;
    void arm_timer() noexcept;
    void arm_recv(Connection& c) noexcept;
    void on_cqe(const io_uring_cqe& cqe) noexcept;
    void on_accept(int res, unsigned flags, bool tls) noexcept;
    void on_tls_data(Connection& c, const char* p, std::size_t n) noexcept;
    void start_tls(Connection& c) noexcept;
    void take_tls_context() noexcept;
    void on_recv(Connection& c, int res, unsigned flags) noexcept;
    void on_send(Connection& c, int res) noexcept;
    void on_data(Connection& c, const char* p, std::size_t n) noexcept;
    std::size_t drive(Connection& c, std::span<const char> in) noexcept;
    void read_along(Connection& c);
    void drive_pending(Connection& c) noexcept;
    bool dispatch(Connection& c) noexcept;
    void drain_results() noexcept;
    void on_tick() noexcept;
    void begin_stop() noexcept;
    void mark_dirty(Connection& c) noexcept;
    void flush() noexcept;
    void fill_send(Connection& c) noexcept;
    void close_conn(Connection& c) noexcept;
    void maybe_free(Connection& c) noexcept;

    Shared& shared_;
    int listen_fd_;
    int tls_listen_fd_;
    SSL_CTX* ctx_ = nullptr;                     // ours; one reference
    std::atomic<SSL_CTX*> next_ctx_{nullptr};    // posted by set_tls_context()
    std::string plain_;                          // decrypted bytes of one receive
    int wake_fd_ = -1;
    io_uring ring_{};
    std::optional<BufferRing> buffers_;         // after ring_: unmapped after the ring's exit
    std::uint64_t wake_buf_ = 0;
    __kernel_timespec tick_{1, 0};
    proto::Timestamp now_ = 0;
    proto::Timestamp deadline_ = 0;
    bool stopping_ = false;
    bool accept_armed_ = false;
    bool tls_accept_armed_ = false;
    Connection* conns_ = nullptr;  // intrusive list of live connections
    Connection* dead_ = nullptr;   // closed ones whose completions or verdict are still due
    std::size_t count_ = 0;
    std::vector<Connection*> dirty_;
    MpmcQueue<Result> results_{1u << 16};
    std::atomic<bool> wake_pending_{false};
};

}  // namespace ringmail::engine
