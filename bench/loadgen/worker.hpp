// bench/loadgen/worker.hpp — one generator thread: its own io_uring (single issuer, deferred
// task work), its share of the connections, a provided-buffer ring with multishot recv for
// replies, and one send per group. Never blocks: waits only in io_uring_enter, with a
// timeout that is the next scheduled arrival or the end of the run.
#pragma once

#include <liburing.h>
#include <sys/socket.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "io/buffer_ring.hpp"
#include "io/ring.hpp"
#include "io/tls_stream.hpp"
#include "options.hpp"
#include "payload.hpp"
#include "stats.hpp"

namespace ringmail::bench {

std::uint64_t mono_ns() noexcept;  // CLOCK_MONOTONIC in nanoseconds

struct Target {
    sockaddr_storage addr{};
    socklen_t len = 0;
};

struct WorkerPlan {
    unsigned index = 0;        // thread number
    unsigned connections = 0;  // this thread's share
    std::uint64_t quota = 0;   // closed loop: messages to start (0 with no --messages: unbounded)
    std::uint64_t start_ns = 0;
};

enum class ConnState : std::uint8_t { Connecting, Greeting, Ehlo, StartTls, TlsHandshake, Idle, Tx, Recover, Quit, Closing, Done };

struct Connection {
    int fd = -1;
    ConnState state = ConnState::Done;
    unsigned ops = 0;       // SQEs in flight; the slot is reused only once this is 0
    bool sending = false;
    bool pipelining = false, chunking = false, starttls = false;  // what this session's EHLO offered
    bool use_pipelining = false, use_bdat = false;
    bool idle_listed = false;
    bool handshaken_once = false;
    unsigned fails = 0;     // consecutive failed sessions; past kMaxRetries it is abandoned
    unsigned tx_on_conn = 0;
    // the transaction in progress
    const Payload* payload = nullptr;
    const std::vector<Group>* plan = nullptr;
    unsigned group = 0, reply_in_group = 0, reply_index = 0, recover_left = 0;
    int tx_error = 0, last_code = 0;
    std::uint64_t tx_start_ns = 0;  // intended start: open loop's schedule, else when sent
    // output: the current send and at most one group queued behind it
    const char* out = nullptr;
    std::size_t out_left = 0;
    const char* next_out = nullptr;
    std::size_t next_left = 0;
    std::string partial;  // a reply line split across receives (bounded)
    // --starttls: the session's TLS, and its ciphertext (queued; the one send in flight)
    std::unique_ptr<io::TlsStream> tls;
    std::string cipher_out, cipher_inflight;
};

class Worker final : public io::Handler {
public:
    Worker(const Options& opt, const PayloadSet& payloads, const Target& target, const WorkerPlan& plan);
    ~Worker();
    Worker(const Worker&) = delete;
    Worker& operator=(const Worker&) = delete;

    void run() noexcept;  // returns when every connection is done or the run's time is up
    const Stats& stats() const noexcept { return stats_; }
    const std::string& fatal() const noexcept { return fatal_; }  // setup failure, if any

private:
    bool setup() noexcept;
    void wait() noexcept;
    void on_completion(const io_uring_cqe& cqe, std::uint64_t payload) noexcept override;
    void prep(io_uring_sqe* s, Connection& c, std::uint64_t op) noexcept;
    void on_connect(Connection& c, int res) noexcept;
    void on_recv(Connection& c, int res, unsigned flags) noexcept;
    void arm_recv(Connection& c) noexcept;
    void on_send(Connection& c, int res) noexcept;
    void feed(Connection& c, const char* p, std::size_t n) noexcept;
    void receive(Connection& c, const char* p, std::size_t n) noexcept;  // TLS first, if on
    void flush_tls(Connection& c) noexcept;
    bool line(Connection& c, const char* p, std::size_t n) noexcept;
    void on_reply(Connection& c, int code) noexcept;
    void tx_reply(Connection& c, int code) noexcept;
    void finish_tx(Connection& c, int error) noexcept;
    void became_idle(Connection& c) noexcept;
    void start_tx(Connection& c, std::uint64_t intended_ns) noexcept;
    void send(Connection& c, const char* data, std::size_t len) noexcept;
    void issue_send(Connection& c) noexcept;
    void open(Connection& c) noexcept;
    void fail(Connection& c, int error) noexcept;
    void begin_close(Connection& c) noexcept;
    void finish_close(Connection& c) noexcept;
    void tick() noexcept;
    bool has_work() const noexcept;
    std::uint64_t queued() const noexcept;
    std::uint64_t schedule_ns(std::uint64_t i) const noexcept;
    std::uint64_t next_random() noexcept;

    const Options& opt_;
    const PayloadSet& payloads_;
    Target target_;
    WorkerPlan plan_;
    Stats stats_;
    std::string fatal_;

    std::optional<io::BufferRing> buffers_;  // before ring_: unmapped after the ring's exit
    std::optional<io::Ring> ring_;
    std::uint8_t id_ = 0;                    // our handler number on ring_

    std::unique_ptr<Connection[]> conns_;  // never reallocated: CQEs point at slots
    std::vector<Connection*> idle_;        // open loop: sessions waiting for a due message
    unsigned live_ = 0;                    // connections not Done
    unsigned handshaken_ = 0;              // connections past their first handshake (or failed)
    std::uint64_t now_ = 0;
    std::uint64_t rng_ = 0;
    std::uint64_t quota_ = 0;              // closed loop: messages still to start
    bool unbounded_quota_ = false;
    bool started_ = false;                 // load offered (open loop waits for connections)
    bool stopping_ = false;                // time is up: start nothing new
    bool forced_ = false;                  // drain time is up too: close everything
    std::uint64_t t0_ = 0, end_ns_ = 0, drain_ns_ = 0, connect_deadline_ = 0;
    // open loop: this thread's arrivals are global numbers index, index + threads, ...
    std::uint64_t sched_count_ = 0;        // this thread's share of --messages (or unbounded)
    std::uint64_t sched_due_ = 0;          // arrivals whose time has come
    std::uint64_t sched_taken_ = 0;        // ... of which started on a connection
};

}  // namespace ringmail::bench
