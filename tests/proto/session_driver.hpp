// tests/proto/session_driver.hpp — drives a proto::ServerSession the way engine/reactor.cpp
// does: unconsumed bytes are kept and fed again with the next piece, and every Need other
// than Input is answered by a Policy and resolve()d before feeding on. What comes out
// (replies, delivered messages, questions asked) is compared across splits.
#pragma once
#include <algorithm>
#include <functional>
#include <ostream>
#include <string>
#include <string_view>
#include <vector>

#include "proto/server_session.hpp"
#include "split.hpp"

namespace ringmail::test {

struct Answer {
    proto::Outcome outcome = proto::Outcome::Accept;
    std::string text;
};

// How the "handlers" answer; the defaults accept everything.
struct Policy {
    std::function<Answer(std::string_view rcpt)> rcpt = [](std::string_view) { return Answer{}; };
    std::function<Answer(std::string_view user, std::string_view pass)> auth =
        [](std::string_view, std::string_view) { return Answer{}; };
    std::function<Answer(const proto::Envelope&)> mail = [](const proto::Envelope&) { return Answer{}; };
};

// Rules the transcripts rely on: recipients reject@… / temp@…, password "wrong", and a
// body line "X-Test: reject" / "X-Test: tempfail" get refused by the handler.
inline Policy rule_policy() {
    Policy p;
    p.rcpt = [](std::string_view r) {
        if (r.starts_with("reject@")) return Answer{proto::Outcome::Reject, ""};
        if (r.starts_with("temp@")) return Answer{proto::Outcome::TempFail, ""};
        return Answer{};
    };
    p.auth = [](std::string_view, std::string_view pass) {
        return pass == "wrong" ? Answer{proto::Outcome::Reject, ""} : Answer{};
    };
    p.mail = [](const proto::Envelope& e) {
        if (e.body.find("X-Test: reject\r\n") != std::string::npos)
            return Answer{proto::Outcome::Reject, "Rejected by policy"};
        if (e.body.find("X-Test: tempfail\r\n") != std::string::npos)
            return Answer{proto::Outcome::TempFail, ""};
        return Answer{};
    };
    return p;
}

struct Delivery {
    std::string helo, user, sender, body;
    std::vector<std::string> recipients;
    bool smtputf8 = false;
    bool operator==(const Delivery&) const = default;
};

inline std::ostream& operator<<(std::ostream& os, const Delivery& d) {
    os << "{helo=" << d.helo << " user=" << d.user << " from=<" << d.sender << "> to=";
    for (const auto& r : d.recipients) os << "<" << r << ">";
    return os << " body=" << ::testing::PrintToString(d.body) << "}";
}

struct SessionRun {
    std::string out;                    // every reply in order, greeting first
    std::vector<Delivery> mails;        // messages handed to the mail handler
    std::vector<std::string> asked;     // "rcpt:<addr>" / "auth:<user>:<pass>" questions
    bool closed = false;                // the session asked to close the connection
    unsigned handshakes = 0;            // TLS handshakes the session asked for (STARTTLS)
    std::size_t discarded = 0;          // bytes dropped between STARTTLS and the handshake
    std::size_t max_pending = 0;        // most unconsumed bytes the caller had to keep
    bool operator==(const SessionRun& o) const {  // max_pending depends on the split by nature
        return out == o.out && mails == o.mails && asked == o.asked && closed == o.closed &&
               handshakes == o.handshakes && discarded == o.discarded;
    }
};

inline std::ostream& operator<<(std::ostream& os, const SessionRun& r) {
    os << "out=" << ::testing::PrintToString(r.out) << " closed=" << r.closed << " mails=[";
    for (const auto& m : r.mails) os << m << " ";
    return os << "]";
}

inline constexpr std::string_view kHost = "mx.test";

class Driver {
public:
    explicit Driver(const proto::Limits& limits = {}, proto::Features features = {},
                    Policy policy = {})
        : session_(limits, features, kHost), policy_(std::move(policy)) {
        session_.greet(0);
        drain();
    }

    // Feeds one piece as a receive completion would; returns false once closed. Between
    // STARTTLS and handshake() the pieces stand for TLS records: the engine hands them
    // to OpenSSL, never to the session, so here they are only counted.
    bool feed(std::string_view piece, proto::Timestamp now = 0) {
        if (run_.closed) return false;
        if (in_handshake_) {
            run_.discarded += piece.size();
            return true;
        }
        pending_.append(piece);
        std::size_t off = 0;
        for (;;) {
            const proto::Step st = session_.feed({pending_.data() + off, pending_.size() - off}, now);
            off += st.consumed;
            if (st.need == proto::Need::Input) break;
            if (st.need == proto::Need::Close) {
                run_.closed = true;
                break;
            }
            if (st.need == proto::Need::StartTls) {
                // As the engine: what the client pipelined after STARTTLS is dropped.
                ++run_.handshakes;
                run_.discarded += pending_.size() - off;
                off = pending_.size();
                in_handshake_ = true;
                break;
            }
            answer(st.need);
        }
        pending_.erase(0, off);
        run_.max_pending = std::max(run_.max_pending, pending_.size());
        drain();
        return !run_.closed;
    }

    // The TLS handshake after STARTTLS has finished.
    void handshake() {
        EXPECT_TRUE(in_handshake_) << "handshake() without STARTTLS";
        in_handshake_ = false;
        session_.tls_started();
        drain();
    }
    bool in_handshake() const { return in_handshake_; }

    bool expire(proto::Timestamp now) {
        const bool closing = session_.expire(now);
        if (closing) run_.closed = true;
        drain();
        return closing;
    }

    proto::ServerSession& session() { return session_; }
    const std::string& pending() const { return pending_; }
    const SessionRun& run() const { return run_; }

private:
    void answer(proto::Need need) {
        Answer a;
        switch (need) {
        case proto::Need::Recipient:
            run_.asked.push_back("rcpt:" + std::string(session_.recipient()));
            a = policy_.rcpt(session_.recipient());
            break;
        case proto::Need::Auth:
            run_.asked.push_back("auth:" + std::string(session_.auth_user()) + ":" +
                                 std::string(session_.auth_password()));
            a = policy_.auth(session_.auth_user(), session_.auth_password());
            break;
        case proto::Need::Message: {
            proto::Envelope e = session_.take_message();
            a = policy_.mail(e);
            run_.mails.push_back({e.helo, e.user, e.sender, e.body, e.recipients, e.smtputf8});
            break;
        }
        default:
            ADD_FAILURE() << "unexpected need";
            return;
        }
        session_.resolve({a.outcome, a.text});
    }

    void drain() {
        run_.out += session_.output();
        session_.output().clear();
    }

    proto::ServerSession session_;
    Policy policy_;
    std::string pending_;
    SessionRun run_;
    bool in_handshake_ = false;
};

// Runs one whole session over `pieces`.
inline SessionRun drive(const Pieces& pieces, const proto::Limits& limits = {},
                 proto::Features features = {}, const Policy& policy = {}) {
    Driver d(limits, features, policy);
    for (auto p : pieces)
        if (!d.feed(p)) break;
    return d.run();
}

// Runs `input` under every split, checks they all agree, and returns the whole-input run.
inline SessionRun drive_all_splits(std::string_view input, const proto::Limits& limits = {},
                            proto::Features features = {}, const Policy& policy = {},
                            std::size_t two_way_max = kTwoWayMax) {
    const SessionRun whole = drive(Pieces{input}, limits, features, policy);
    for_each_split(input, [&](const Pieces& pieces) {
        const SessionRun r = drive(pieces, limits, features, policy);
        EXPECT_EQ(r, whole);
        // Bounded buffering: the caller never holds more than one unfinished line.
        EXPECT_LE(r.max_pending, std::max(limits.max_command_line, limits.max_auth_line));
    }, two_way_max);
    return whole;
}

// Reply lines of `out` without their CRLF.
inline std::vector<std::string> lines(std::string_view out) {
    std::vector<std::string> v;
    while (!out.empty()) {
        const std::size_t e = out.find("\r\n");
        v.emplace_back(out.substr(0, e));
        out.remove_prefix(e == std::string_view::npos ? out.size() : e + 2);
    }
    return v;
}

// The reply codes of `out`, one per final line ("250-" continuation lines are skipped).
inline std::vector<int> codes(std::string_view out) {
    std::vector<int> v;
    for (const auto& l : lines(out))
        if (l.size() >= 4 && l[3] == ' ') v.push_back(std::stoi(l.substr(0, 3)));
    return v;
}

}  // namespace ringmail::test
