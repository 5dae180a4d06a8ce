// relay/relay.hpp — the delivery engine: one thread with its own io::Ring (built like the
// server's reactors) that takes due messages from the store, routes each recipient (the
// smarthost, an address literal, or the domain's MX hosts), and delivers them over
// outbound connections (io::Stream + proto::ClientSession): at most `connections` open at
// once and `connections_per_destination` per destination, up to `messages_per_connection`
// per connection (the session sends RSET between messages as needed), highest priority
// first, then oldest. Results go back to the store in one transaction per turn; 4xx and
// connection failures are retried with backoff (relay/retry.hpp), 5xx and exhausted retries
// fail and queue a bounce (RFC 3464) to the sender, never for a bounce.
//
// The schedule lives in the store (its due index); the engine holds only the deliveries it
// is about to make (bounded), so a million queued messages cost no memory here.
#pragma once
#include <sys/socket.h>

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "config/config.hpp"
#include "io/event_file.hpp"
#include "relay/counters.hpp"
#include "relay/store.hpp"

namespace ringmail::relay {

// One address to connect to, with the host name it belongs to (for SNI, the log and the
// certificate check).
struct Target {
    std::string host;
    sockaddr_storage addr{};
    socklen_t len = 0;
    std::string ip() const;  // the address as text
};

// RFC 5321 4.5.3.2: how long the client waits for each reply, and for each send of the
// body to make progress. `[relay] reply_timeout` (for tests) sets them all to one value.
struct ClientTimeouts {
    std::uint64_t greeting_ms = 300'000;    // 4.5.3.2.1: the 220
    std::uint64_t mail_ms = 300'000;        // 4.5.3.2.2: MAIL's reply
    std::uint64_t rcpt_ms = 300'000;        // 4.5.3.2.3: each RCPT's
    std::uint64_t data_ms = 120'000;        // 4.5.3.2.4: DATA's 354
    std::uint64_t data_block_ms = 180'000;  // 4.5.3.2.5: each send of the body moves
    std::uint64_t data_end_ms = 600'000;    // 4.5.3.2.6: the reply to the final dot
    std::uint64_t other_ms = 300'000;       // EHLO, STARTTLS, AUTH, RSET, QUIT: none set; as MAIL
    static ClientTimeouts all(std::uint64_t ms) noexcept { return {ms, ms, ms, ms, ms, ms, ms}; }
};

// Where a destination's mail goes, or why it cannot go.
struct Route {
    enum class Kind : std::uint8_t { Ok, TempFail, PermFail } kind = Kind::Ok;
    std::vector<Target> targets;  // in the order to try (MX preference)
    std::string reason;           // for failures: the log, last_reply and the bounce
    std::string status;           // RFC 3463 code for a failure ("5.1.10": null MX)
};

class Relay {
public:
    // `store` is used by the relay's thread only. `hostname`: our EHLO name and the
    // bounce's Reporting-MTA. MX lookups go to `config.resolver` (libunbound, relay/dns.hpp).
    Relay(const RelayConfig& config, std::unique_ptr<Store> store, std::string hostname);
    ~Relay();
    Relay(const Relay&) = delete;
    Relay& operator=(const Relay&) = delete;

    // Before start(): each delivery attempt and bounce also goes to `events` as a JSON line
    // ([server] event_log; it outlives the relay's thread).
    void set_event_log(io::EventFile* events) noexcept;
    void start();  // starts the thread
    // From any thread: messages were queued; look at the store now, not at the next tick.
    void poke() noexcept;
    // Closes the connections (deliveries under way stay queued and are retried by the next
    // run) and joins the thread.
    void stop();
    // From any thread (a /metrics scrape): written by the engine's thread only.
    const RelayCounters& counters() const noexcept;

    struct Engine;  // relay/relay.cpp

private:
    std::unique_ptr<Engine> engine_;
    std::thread thread_;
};

}  // namespace ringmail::relay
