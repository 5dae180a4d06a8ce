// smtpd/reactor.hpp — the inbound server on one io::Ring per thread: SO_REUSEPORT
// listeners (plain, and implicit TLS when configured) with io::Acceptor, each
// connection's bytes on an io::Stream (multishot recv from the ring's provided buffers,
// TLS over memory BIOs), replies coalesced into one send per connection per turn. Never
// blocks, never runs handler code (invariant 1); its sessions and their TLS state never
// leave it (invariant 2). Connections are named by (slot, generation): completions and
// handler answers for a connection that closed meanwhile are dropped (invariant 8).
#pragma once
#include <atomic>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "config/config.hpp"
#include "io/buffer_ring.hpp"
#include "io/event_file.hpp"
#include "io/mailbox.hpp"
#include "io/ring.hpp"
#include "io/listener.hpp"
#include "io/slot_table.hpp"
#include "io/stream.hpp"
#include "mime/stream_parser.hpp"
#include "proto/server_session.hpp"
#include "smtpd/counters.hpp"
#include "io/ring_writer.hpp"
#include "smtpd/body_pool.hpp"
#include "smtpd/job.hpp"
#include "smtpd/relay_access.hpp"

namespace ringmail::smtpd {

// Read-only after start, shared by every reactor.
struct Shared {
    Config config;
    std::string hostname;
    proto::Features features;       // starttls: a certificate is loaded
    JobSink* pool = nullptr;        // runs on_rcpt (and on_mail) when the user set them
    JobSink* auth_pool = nullptr;   // runs on_auth: password hashes are slow by design, and a
                                    // login flood must not stall recipients and mail
    bool ask_rcpt = false;
    const RelayAccess* relay_access = nullptr;  // handler = queue: who may relay where
    bool ask_auth = false;
    JobSink* mail_sink = nullptr;   // nullptr: accept and drop (the discard handler)
    bool split = false;             // MIME-parse bodies while they arrive (config.mime resolved)
    // Bodies are read by somebody: the split, or a sink. Else (discard) they are checked
    // and counted but never stored.
    bool keeps_bodies() const noexcept { return split || mail_sink; }
    io::EventFile* events = nullptr;  // [server] event_log: a line per message received
    // Message bytes held now by every reactor and sink, against max_inflight_bytes.
    std::atomic<std::uint64_t> inflight{0};
    std::atomic<bool> stopping{false};
    // Where answers go home, by reactor number; filled before any reactor thread starts.
    std::vector<io::Mailbox<JobDone>*> inboxes;
};

// A connection's life, one state instead of a set of flags:
//   Open      reading and answering;
//   PeerDone  the client shut down its sending side: answer what it sent (and the
//             verdict on its way), then close;
//   Closing   read no more; close once the output is sent;
//   Closed    socket closed; the slot is freed when no request names it any more.
enum class Life : std::uint8_t { Open, PeerDone, Closing, Closed };

// One SMTP connection: the session on an io::Stream. Idle, it holds no receive buffer.
struct Connection {
    Connection(io::SlotId name, io::Ring& ring, io::BufferRing& buffers, std::uint8_t handler, const Shared& s,
               proto::Features f)
        : id(name), stream(ring, buffers, handler, name.pack()), session(s.config.limits, f, s.hostname) {
        session.keep_bodies(s.keeps_bodies());
    }
    // Idle connections are most of a server's connections: fields are ordered so that the
    // small ones share words (docs/BENCHMARKS.md counts bytes per idle connection).
    io::SlotId id;
    io::Stream stream;
    proto::ServerSession session;
    Life life = Life::Open;
    bool implicit_tls = false;  // accepted on tls_port: greet once the handshake is done
    bool waiting = false;       // a job is out; its answer will come back
    bool output_blocked = false;  // too many replies unsent: input waits until they drain
    bool dirty = false;         // in the flush list
    bool counted = false;       // in Reactor::clients_ (its address is limited)
    std::int8_t relay_net = -1; // in relay_networks: -1 not looked up yet, 0 no, 1 yes
    std::uint32_t job_seq = 0;  // number of the job out (or the last one)
    std::uint32_t mime_seq = 0;
    // For the log: messages accepted and refused, the message whose start is noted.
    std::uint32_t accepted = 0, refused = 0;
    std::uint32_t log_seq = 0;
    Liveness alive;             // made at the first job; cleared at close
    proto::Timestamp job_deadline = 0;  // handler_timeout: answer 451/454 ourselves then
    proto::Timestamp hold_until = 0;    // a failed login's reply waits until then
    std::string pending;        // input not yet consumed (split line, or held while waiting)
    std::size_t pending_off = 0;
    std::string ip;
    // The MIME parser reads along while DATA arrives; allocated per message only.
    std::unique_ptr<mime::StreamParser> mime;
    std::size_t mime_fed = 0;
    std::uint64_t charged = 0;  // this message's bytes counted in Shared::inflight
    std::uint64_t serial = 0;   // this reactor's number for the connection (the log's)
    proto::Timestamp opened = 0;
    proto::Timestamp message_began = 0;
    // The message a handler decides now, for its log line: made when its job leaves.
    struct MessageNote {
        std::string from;
        std::size_t rcpts = 0, size = 0;
    };
    std::unique_ptr<MessageNote> note;

    bool reading() const noexcept { return life == Life::Open; }
};

class Reactor final : public io::Handler, public io::AcceptSink {
public:
    // index: this reactor's number in Shared::inboxes. listen_fd, tls_listen_fd: the plain
    // and the implicit TLS listener, or -1. Both descriptors become the reactor's.
    Reactor(Shared& shared, unsigned index, int listen_fd, int tls_listen_fd = -1);
    ~Reactor();
    Reactor(const Reactor&) = delete;
    Reactor& operator=(const Reactor&) = delete;

    void run();                       // the thread body; returns after shutdown
    io::Mailbox<JobDone>& inbox() noexcept { return inbox_; }
    void wake() noexcept { inbox_.wake(); }  // from any thread: look at Shared::stopping
    // From any thread: new handshakes use `ctx` from now on (SIGHUP reload); connections
    // keep the context they started with. Takes its own reference.
    void set_tls_context(SSL_CTX* ctx) noexcept;
    // From any thread (a /metrics scrape): written by this reactor's thread only.
    const ReactorCounters& counters() const noexcept { return counters_; }

    void on_completion(const io_uring_cqe& cqe, std::uint64_t payload) noexcept override;
    void on_accepted(int fd, unsigned listener) noexcept override;
    void on_refused(int fd, unsigned listener) noexcept override;

private:
    void on_stream(Connection& c, io::StreamEvent ev, std::string_view bytes) noexcept;
    void start_tls(Connection& c) noexcept;
    void take_tls_context() noexcept;
    void on_peer_done(Connection& c) noexcept;
    void on_data(Connection& c, const char* p, std::size_t n) noexcept;
    std::size_t drive(Connection& c, std::span<const char> in) noexcept;
    void read_along(Connection& c);
    void account(Connection& c) noexcept;
    void log_message(Connection& c, proto::Outcome outcome, std::string_view text) noexcept;
    void event_message(Connection& c, proto::Outcome outcome, std::string_view text, std::size_t size) noexcept;
    void release(Connection& c) noexcept;
    std::unique_ptr<mime::StreamParser> take_parser();
    void give_parser(std::unique_ptr<mime::StreamParser> p) noexcept;
    void trim_credit() noexcept;
    void drive_pending(Connection& c) noexcept;
    bool dispatch(Connection& c) noexcept;
    void on_answer(JobDone&& r) noexcept;
    void resolve(Connection& c, const proto::Resolution& r) noexcept;
    void on_tick() noexcept;
    // The time of this turn, read before its completions are handled (never stale there).
    proto::Timestamp now() const noexcept { return ring_.now_ms(); }
    void begin_stop() noexcept;
    void mark_dirty(Connection& c) noexcept;
    void flush() noexcept;
    void close_conn(Connection& c) noexcept;
    void maybe_free(Connection& c) noexcept;

    Shared& shared_;
    unsigned index_;
    SSL_CTX* ctx_ = nullptr;                     // ours; one reference
    std::atomic<SSL_CTX*> next_ctx_{nullptr};    // posted by set_tls_context()
    std::optional<io::BufferRing> buffers_;      // before ring_: unmapped after the ring's exit
    io::Ring ring_;
    std::uint8_t id_;                            // this reactor's handler number on ring_
    io::Mailbox<JobDone> inbox_;
    io::Ticker tick_;
    io::RingWriter log_out_;  // this reactor's log lines to stderr, in the turn's submission
    bool log_file_ = false;   // stderr is a file: the lines go to base/log's writer thread
    std::optional<io::Acceptor> plain_listener_;  // port (absent: mail.ini has none)
    std::optional<io::Acceptor> tls_listener_;    // tls_port
    proto::Timestamp deadline_ = 0;
    bool stopping_ = false;
    std::size_t live_ = 0;                       // connections not Closed
    // Jobs out whose connection no longer waits for them (closed, or answered at the
    // handler deadline): they still hold a handler, so they count against max_connections.
    std::size_t orphans_ = 0;
    io::SlotTable<Connection> conns_;            // live and Closed ones with requests due
    std::vector<Connection*> dirty_;
    // Failed logins by client address, this reactor's share (issue 13 item 7).
    struct LoginFailures {
        unsigned count = 0;
        proto::Timestamp until = 0;  // forgotten then
    };
    std::unordered_map<std::string, LoginFailures> login_failures_;
    // Connections by client address, this reactor's share (issue 13 item 12).
    struct ClientCount {
        unsigned open = 0;
        unsigned new_in_minute = 0;
        proto::Timestamp minute_ends = 0;
    };
    std::unordered_map<std::string, ClientCount> clients_;
    unsigned ticks_ = 0;
    proto::Timestamp budget_logged_ = 0;  // the last "max_inflight_bytes reached" line
    bool held_bodies_ = false;            // message memory was taken since the last trim
    // Bytes of Shared::inflight this reactor has taken ahead for its next messages, so that
    // a message costs no write to the counter both reactors share (at most 2 x credit_chunk_;
    // given back each second).
    std::uint64_t credit_ = 0;
    std::uint64_t credit_chunk_ = 0;
    BodyPool bodies_;                     // dropped bodies' buffers, lent to the next messages
    // MIME parsers of finished messages, reset, for the next ones (the split's parser cost
    // an allocation and its buffers' growth per message); freed after a quiet second.
    static constexpr std::size_t kMaxSpareParsers = 1024;
    std::vector<std::unique_ptr<mime::StreamParser>> parsers_;
    bool parsers_used_ = false;
    bool bodies_used_ = false;            // the pool served a message since the last tick
    std::uint64_t serials_ = 0;           // connections accepted so far
    std::string log_;                     // this turn's log lines, written once per turn
    ReactorCounters counters_;            // /metrics; a cache line of its own
    std::string events_;                  // this turn's event_log lines, posted once per turn
    bool admit(const std::string& ip) noexcept;
    void refuse(int fd, const char* why) noexcept;
    void count_login_failure(Connection& c) noexcept;
    bool logins_blocked(Connection& c) noexcept;
    bool relay_allowed(Connection& c) noexcept;
};

}  // namespace ringmail::smtpd
