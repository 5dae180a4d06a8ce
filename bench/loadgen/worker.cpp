// bench/loadgen/worker.cpp — the generator thread's ring: connections, the completion loop,
// the schedule and the end of the run. SMTP replies are handled in worker_session.cpp.
// Invariant: a Connection slot is reopened only when no request on it is in flight (ops 0).
#include "worker.hpp"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <ctime>
#include <limits>
#include <stdexcept>

namespace ringmail::bench {
namespace {

constexpr unsigned kBufSize = 4096;  // replies are short; a 4 KiB read holds many
constexpr unsigned kBufGroup = 0;
constexpr unsigned kMaxRetries = 5;  // consecutive failed sessions before a slot gives up
// After the time is up, transactions in flight get this long to finish (then "timeout"),
// and the closes get a little longer before the loop leaves regardless.
constexpr std::uint64_t kDrainNs = 10'000'000'000;
constexpr std::uint64_t kForceGraceNs = 5'000'000'000;
// The open loop starts its schedule once its connections are up, or after this long.
constexpr std::uint64_t kConnectWaitNs = 30'000'000'000;
constexpr std::uint64_t kNever = std::numeric_limits<std::uint64_t>::max();

// Payload of our SQEs: the connection's index in conns_, times 4, plus the operation.
enum : std::uint64_t { kConnectTag = 1, kRecvTag = 2, kSendTag = 3, kTagMask = 3 };


unsigned pow2_clamp(std::uint64_t want, unsigned lo, unsigned hi) noexcept {
    unsigned v = lo;
    while (v < want && v < hi) v <<= 1;
    return v;
}

}  // namespace

std::uint64_t mono_ns() noexcept {
    timespec ts{};
    ::clock_gettime(CLOCK_MONOTONIC, &ts);
    return std::uint64_t(ts.tv_sec) * 1'000'000'000u + std::uint64_t(ts.tv_nsec);
}

Worker::Worker(const Options& opt, const PayloadSet& payloads, const Target& target, const WorkerPlan& plan)
    : opt_(opt), payloads_(payloads), target_(target), plan_(plan),
      conns_(std::make_unique<Connection[]>(plan.connections)) {
    rng_ = 0x9E3779B97F4A7C15ull * (plan.index + 1) ^ plan.start_ns;
    quota_ = plan.quota;
    unbounded_quota_ = opt.messages == 0;
    if (opt.messages == 0) sched_count_ = kNever;
    else sched_count_ = opt.messages > plan.index ? (opt.messages - plan.index - 1) / opt.threads + 1 : 0;
}

Worker::~Worker() {
    for (unsigned i = 0; i < plan_.connections; ++i)
        if (conns_[i].fd >= 0) ::close(conns_[i].fd);
}

bool Worker::setup() noexcept {
    // One provided buffer per pending reply; a connection holds one only while its
    // completion is being handled, so idle connections cost none.
    try {
        ring_.emplace(pow2_clamp(std::uint64_t(plan_.connections) * 2, 64, 4096));
        ring_->start();  // this thread is the ring's one issuer
        id_ = ring_->add(*this);
        buffers_.emplace(ring_->raw(), pow2_clamp(std::uint64_t(plan_.connections) * 2, 64, 8192), kBufSize, kBufGroup);
    } catch (const std::exception& e) {
        fatal_ = e.what();
        return false;
    }
    return true;
}

void Worker::prep(io_uring_sqe* s, Connection& c, std::uint64_t op) noexcept {
    const auto index = static_cast<std::uint64_t>(&c - conns_.get());
    io_uring_sqe_set_data64(s, io::Ring::user_data(id_, index << 2 | op));
}

std::uint64_t Worker::next_random() noexcept {  // xorshift64*
    rng_ ^= rng_ >> 12;
    rng_ ^= rng_ << 25;
    rng_ ^= rng_ >> 27;
    return rng_ * 0x2545F4914F6CDD1Dull;
}

std::uint64_t Worker::schedule_ns(std::uint64_t i) const noexcept {
    // Arrival g (global number) is due at t0 + g / rate: a constant schedule, independent
    // of how fast the server answers, so queueing delay shows in the latency.
    const double g = double(plan_.index) + double(i) * double(opt_.threads);
    return t0_ + static_cast<std::uint64_t>(g * 1e9 / opt_.rate);
}

std::uint64_t Worker::queued() const noexcept { return sched_due_ - sched_taken_; }

bool Worker::has_work() const noexcept {
    if (stopping_) return false;
    if (opt_.rate <= 0) return unbounded_quota_ || quota_ > 0;
    return queued() > 0 || sched_due_ < sched_count_;
}

void Worker::run() noexcept {
    if (!setup()) {
        stats_.unsent = opt_.rate > 0 ? 0 : quota_;
        return;
    }
    now_ = mono_ns();
    connect_deadline_ = now_ + kConnectWaitNs;
    if (opt_.rate <= 0) {  // closed loop: the clock runs from the start of the whole run
        started_ = true;
        t0_ = stats_.load_start_ns = plan_.start_ns;
        end_ns_ = plan_.start_ns + static_cast<std::uint64_t>(opt_.duration_s * 1e9);
        drain_ns_ = end_ns_ + kDrainNs;
    }
    live_ = plan_.connections;
    for (unsigned i = 0; i < plan_.connections; ++i) open(conns_[i]);
    while (live_ > 0) {
        wait();  // and the completions it brought
        now_ = mono_ns();
        buffers_->publish();
        tick();
        if (forced_ && now_ >= drain_ns_ + kForceGraceNs) break;  // closes that never came back
    }
    if (opt_.rate <= 0) {
        if (!unbounded_quota_) stats_.unsent += quota_;
    } else {
        stats_.unsent += queued();
        if (!stopping_ && sched_count_ != kNever) stats_.unsent += sched_count_ - sched_due_;  // no connection left
    }
}

void Worker::wait() noexcept {
    std::uint64_t deadline = kNever;
    if (!started_) deadline = connect_deadline_;
    else if (!stopping_) {
        deadline = end_ns_;
        if (opt_.rate > 0 && sched_due_ < sched_count_) deadline = std::min(deadline, schedule_ns(sched_due_));
    } else deadline = forced_ ? drain_ns_ + kForceGraceNs : drain_ns_;
    const std::uint64_t now = mono_ns();
    const std::uint64_t rel = deadline > now ? deadline - now : 0;
    __kernel_timespec ts{};
    ts.tv_sec = static_cast<long long>(rel / 1'000'000'000u);
    ts.tv_nsec = static_cast<long long>(rel % 1'000'000'000u);
    (void)ring_->turn(&ts);  // -ETIME (the deadline came) and -EINTR are routine; tick() looks at the clock
}

void Worker::on_completion(const io_uring_cqe& cqe, std::uint64_t data) noexcept {
    Connection& c = conns_[data >> 2];
    switch (data & kTagMask) {
    case kConnectTag: on_connect(c, cqe.res); break;
    case kRecvTag: on_recv(c, cqe.res, cqe.flags); break;
    case kSendTag: on_send(c, cqe.res); break;
    default: break;
    }
}

void Worker::tick() noexcept {
    if (!started_) {
        if (handshaken_ < plan_.connections && now_ < connect_deadline_) return;
        started_ = true;  // open loop: every connection is up (or has failed)
        t0_ = stats_.load_start_ns = now_;
        end_ns_ = now_ + static_cast<std::uint64_t>(opt_.duration_s * 1e9);
        drain_ns_ = end_ns_ + kDrainNs;
    }
    if (!stopping_ && now_ >= end_ns_) stopping_ = stats_.time_up = true;
    if (opt_.rate > 0 && !stopping_) {
        while (sched_due_ < sched_count_ && schedule_ns(sched_due_) <= now_) ++sched_due_;
        while (queued() > 0 && !idle_.empty()) {
            Connection* c = idle_.back();
            idle_.pop_back();
            c->idle_listed = false;
            if (c->state == ConnState::Idle) start_tx(*c, schedule_ns(sched_taken_++));
        }
    }
    if (!has_work() && !idle_.empty()) {  // nothing more will come: say goodbye
        std::vector<Connection*> idle;
        idle.swap(idle_);
        for (Connection* c : idle) {
            c->idle_listed = false;
            if (c->state == ConnState::Idle) became_idle(*c);
        }
    }
    if (stopping_ && !forced_ && now_ >= drain_ns_) {
        forced_ = true;
        for (unsigned i = 0; i < plan_.connections; ++i) {
            Connection& c = conns_[i];
            if (c.state == ConnState::Tx) finish_tx(c, kErrTimeout);
            begin_close(c);
        }
    }
}

void Worker::open(Connection& c) noexcept {
    ++stats_.connects;
    c.fd = ::socket(target_.addr.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (c.fd < 0) {  // out of descriptors or ports: count it as a failed session
        c.state = ConnState::Connecting;
        fail(c, kErrConnect);
        return;
    }
    const int one = 1;  // each group is one send; do not hold it back for a full segment
    ::setsockopt(c.fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    c.state = ConnState::Connecting;
    c.pipelining = c.chunking = false;
    io_uring_sqe* s = ring_->sqe();
    io_uring_prep_connect(s, c.fd, reinterpret_cast<const sockaddr*>(&target_.addr), target_.len);
    prep(s, c, kConnectTag);
    ++c.ops;
}

void Worker::on_connect(Connection& c, int res) noexcept {
    --c.ops;
    if (c.state != ConnState::Connecting) {
        if (c.state == ConnState::Closing && c.ops == 0) finish_close(c);
        return;
    }
    if (res < 0) {
        fail(c, kErrConnect);
        return;
    }
    c.state = ConnState::Greeting;
    arm_recv(c);
}

void Worker::on_recv(Connection& c, int res, unsigned flags) noexcept {
    const bool more = flags & IORING_CQE_F_MORE;
    if (res > 0 && (flags & IORING_CQE_F_BUFFER)) {
        const unsigned bid = io::BufferRing::id(flags);
        if (c.state != ConnState::Closing && c.state != ConnState::Done)
            receive(c, buffers_->data(bid), static_cast<std::size_t>(res));
        buffers_->recycle(bid);
    }
    if (more) return;
    --c.ops;  // after feed(): the slot must not be reopened while its bytes are read
    if (c.state == ConnState::Closing) {
        if (c.ops == 0) finish_close(c);
        return;
    }
    if (c.state == ConnState::Done) return;
    if (res == 0 || (res < 0 && res != -ENOBUFS)) {
        fail(c, kErrClosed);  // EOF or reset; after QUIT this is the normal end
        return;
    }
    arm_recv(c);  // out of buffers, or the kernel ended the multishot: ask again
}

void Worker::arm_recv(Connection& c) noexcept {
    io_uring_sqe* s = ring_->sqe();
    io_uring_prep_recv_multishot(s, c.fd, nullptr, 0, 0);
    s->flags |= IOSQE_BUFFER_SELECT;
    s->buf_group = kBufGroup;
    prep(s, c, kRecvTag);
    ++c.ops;
}

void Worker::send(Connection& c, const char* data, std::size_t len) noexcept {
    if (c.tls && c.tls->established()) {  // plaintext becomes records, queued behind the send in flight
        if (!c.tls->write({data, len})) {
            fail(c, kErrProtocol);
            return;
        }
        flush_tls(c);
        return;
    }
    if (c.sending) {
        // The server answers a group only after all of it arrived, so at most one group
        // waits behind a send whose completion we have not reaped yet.
        if (c.next_out) {
            fail(c, kErrProtocol);
            return;
        }
        c.next_out = data;
        c.next_left = len;
        return;
    }
    c.out = data;
    c.out_left = len;
    issue_send(c);
}

void Worker::issue_send(Connection& c) noexcept {
    io_uring_sqe* s = ring_->sqe();
    io_uring_prep_send(s, c.fd, c.out, c.out_left, MSG_NOSIGNAL | MSG_WAITALL);
    prep(s, c, kSendTag);
    ++c.ops;
    c.sending = true;
}

void Worker::on_send(Connection& c, int res) noexcept {
    --c.ops;
    c.sending = false;
    if (c.state == ConnState::Closing) {
        if (c.ops == 0) finish_close(c);
        return;
    }
    if (c.state == ConnState::Done) return;
    if (res < 0) {
        fail(c, kErrClosed);
        return;
    }
    if (static_cast<std::size_t>(res) < c.out_left) {  // short send: the rest, same group
        c.out += res;
        c.out_left -= static_cast<std::size_t>(res);
        issue_send(c);
        return;
    }
    c.out_left = 0;
    if (c.tls) {  // the ciphertext queued meanwhile goes next
        c.cipher_inflight.clear();
        flush_tls(c);
        return;
    }
    if (c.next_out) {
        c.out = c.next_out;
        c.out_left = c.next_left;
        c.next_out = nullptr;
        issue_send(c);
    }
}

void Worker::begin_close(Connection& c) noexcept {
    if (c.state == ConnState::Closing || c.state == ConnState::Done) return;
    c.state = ConnState::Closing;
    // Requests in flight keep the socket alive; shutdown ends them and sends the FIN now.
    if (c.fd >= 0) ::shutdown(c.fd, SHUT_RDWR);
    if (c.ops == 0) finish_close(c);
}

void Worker::finish_close(Connection& c) noexcept {
    if (c.fd >= 0) ::close(c.fd);
    c.fd = -1;
    c.partial.clear();
    c.tls.reset();
    c.cipher_out.clear();
    c.cipher_inflight.clear();
    c.starttls = false;
    c.sending = false;
    c.next_out = nullptr;
    c.out_left = 0;
    if (has_work() && !forced_ && c.fails <= kMaxRetries) {
        open(c);
        return;
    }
    if (c.fails > kMaxRetries) ++stats_.abandoned;
    if (!c.handshaken_once) {
        c.handshaken_once = true;
        ++handshaken_;
    }
    c.state = ConnState::Done;
    --live_;
}

}  // namespace ringmail::bench
