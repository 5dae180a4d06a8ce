// bench/floor/worker.cpp — the ring loop: reap a batch of completions, let the Scanner answer
// what arrived, then one send per connection with new replies. A slot is reused only after
// its recv and send have completed; the generation in user_data drops a late completion.
#include "bench/floor/worker.hpp"

#include <sys/mman.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace ringmail::floor {
namespace {

enum Op : std::uint64_t { kAccept = 1, kRecv = 2, kSend = 3, kWake = 4, kIgnored = 5 };
constexpr unsigned short kGroup = 0;

std::uint64_t user_data(Op op, std::uint32_t gen, std::uint32_t slot) noexcept {
    return (std::uint64_t(op) << 56) | (std::uint64_t(gen & 0xffffff) << 32) | slot;
}
Op op_of(std::uint64_t u) noexcept { return Op(u >> 56); }
std::uint32_t gen_of(std::uint64_t u) noexcept { return std::uint32_t(u >> 32) & 0xffffff; }
std::uint32_t slot_of(std::uint64_t u) noexcept { return std::uint32_t(u); }

std::size_t ring_bytes() noexcept { return Worker::kBufCount * sizeof(io_uring_buf); }

}  // namespace

Worker::~Worker() {
    for (Conn& c : conns_)
        if (c.fd >= 0) ::close(c.fd);
    if (ring_ok_) io_uring_queue_exit(&ring_);
    // The kernel may use the buffers until the ring is gone.
    if (bufs_) ::munmap(bufs_, std::size_t(kBufCount) * kBufSize);
    if (br_) ::munmap(br_, ring_bytes());
}

int Worker::setup() noexcept {
    io_uring_params p{};
    // The same flags as ringmail's io::Ring: one issuer, completions run only when we ask.
    p.flags = IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN | IORING_SETUP_SUBMIT_ALL;
    int rc = io_uring_queue_init_params(kEntries, &ring_, &p);
    if (rc == -EINVAL) {  // older kernels: a plain ring
        p = {};
        rc = io_uring_queue_init_params(kEntries, &ring_, &p);
    }
    if (rc < 0) return rc;
    ring_ok_ = true;
    (void)io_uring_register_ring_fd(&ring_);

    // The provided-buffer ring, by hand: liburing 2.3 (Debian 12) has no io_uring_setup_buf_ring.
    void* mem = ::mmap(nullptr, ring_bytes(), PROT_READ | PROT_WRITE, MAP_ANONYMOUS | MAP_PRIVATE, -1, 0);
    if (mem == MAP_FAILED) return -errno;
    br_ = static_cast<io_uring_buf_ring*>(mem);
    io_uring_buf_ring_init(br_);
    io_uring_buf_reg reg{};
    reg.ring_addr = reinterpret_cast<std::uint64_t>(br_);
    reg.ring_entries = kBufCount;
    reg.bgid = kGroup;
    if ((rc = io_uring_register_buf_ring(&ring_, &reg, 0)) < 0) return rc;
    mem = ::mmap(nullptr, std::size_t(kBufCount) * kBufSize, PROT_READ | PROT_WRITE, MAP_ANONYMOUS | MAP_PRIVATE,
                 -1, 0);
    if (mem == MAP_FAILED) return -errno;
    bufs_ = static_cast<char*>(mem);
    for (unsigned i = 0; i < kBufCount; ++i) recycle(i);
    io_uring_buf_ring_advance(br_, int(recycled_));
    recycled_ = 0;
    return 0;
}

io_uring_sqe* Worker::sqe() noexcept {
    io_uring_sqe* s = io_uring_get_sqe(&ring_);
    while (!s) {  // the submission queue is full: hand it to the kernel now
        io_uring_submit(&ring_);
        s = io_uring_get_sqe(&ring_);
    }
    return s;
}

void Worker::recycle(unsigned bid) noexcept {
    io_uring_buf_ring_add(br_, bufs_ + std::size_t(bid) * kBufSize, kBufSize, static_cast<unsigned short>(bid),
                          io_uring_buf_ring_mask(kBufCount), int(recycled_++));
}

void Worker::arm_accept() noexcept {
    io_uring_sqe* s = sqe();
    io_uring_prep_multishot_accept(s, listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
    io_uring_sqe_set_data64(s, user_data(kAccept, 0, 0));
    accept_armed_ = true;
}

void Worker::arm_wake() noexcept {
    io_uring_sqe* s = sqe();
    io_uring_prep_read(s, wake_fd_, &wake_value_, sizeof wake_value_, 0);
    io_uring_sqe_set_data64(s, user_data(kWake, 0, 0));
}

void Worker::arm_recv(Conn& c, std::uint32_t slot) noexcept {
    io_uring_sqe* s = sqe();
    io_uring_prep_recv_multishot(s, c.fd, nullptr, 0, 0);
    s->flags |= IOSQE_BUFFER_SELECT;
    s->buf_group = kGroup;
    io_uring_sqe_set_data64(s, user_data(kRecv, c.gen, slot));
    c.recv_armed = true;
    c.cancel_sent = false;
}

int Worker::run() noexcept {
    arm_wake();
    arm_accept();
    while (!stop_) {
        flush();
        if (recycled_) {  // one store for every buffer handed back in this batch
            io_uring_buf_ring_advance(br_, int(recycled_));
            recycled_ = 0;
        }
        const int rc = io_uring_submit_and_wait(&ring_, 1);
        if (rc < 0 && rc != -EINTR && rc != -EAGAIN && rc != -EBUSY) return rc;
        unsigned head = 0, n = 0;
        io_uring_cqe* cqe = nullptr;
        io_uring_for_each_cqe(&ring_, head, cqe) {
            on_cqe(*cqe);
            ++n;
        }
        io_uring_cq_advance(&ring_, n);
    }
    return 0;
}

void Worker::on_cqe(const io_uring_cqe& cqe) noexcept {
    const std::uint64_t u = cqe.user_data;
    switch (op_of(u)) {
    case kAccept: on_accept(cqe); return;
    case kWake: stop_ = true; return;
    case kIgnored: return;
    case kRecv:
    case kSend: break;
    }
    const std::uint32_t slot = slot_of(u);
    Conn* c = slot < conns_.size() && conns_[slot].fd >= 0 && (conns_[slot].gen & 0xffffff) == gen_of(u)
                  ? &conns_[slot]
                  : nullptr;
    if (!c) {  // cannot happen while slots wait for their last completion; a buffer still goes back
        if (op_of(u) == kRecv && (cqe.flags & IORING_CQE_F_BUFFER)) recycle(cqe.flags >> IORING_CQE_BUFFER_SHIFT);
        return;
    }
    if (op_of(u) == kRecv) on_recv(*c, cqe);
    else on_send(*c, cqe);
    mark(*c, slot);
}

void Worker::mark(Conn& c, std::uint32_t slot) noexcept {
    if (c.dirty) return;
    c.dirty = true;
    dirty_.push_back(slot);
}

void Worker::on_accept(const io_uring_cqe& cqe) noexcept {
    if (!(cqe.flags & IORING_CQE_F_MORE)) accept_armed_ = false;  // re-armed at the end of the batch
    // EMFILE and the like: the client waits in the backlog. XXX: while the limit lasts, the
    // re-armed accept fails again at once (bench/compare_peers raises ulimit -n first).
    if (cqe.res < 0) return;
    std::uint32_t slot;
    if (!free_.empty()) {
        slot = free_.back();
        free_.pop_back();
    } else {
        slot = std::uint32_t(conns_.size());
        conns_.emplace_back();
        conns_.back().out_mem = std::make_unique<char[]>(kOutSize);
    }
    Conn& c = conns_[slot];
    const std::uint32_t gen = c.gen + 1;
    std::unique_ptr<char[]> mem = std::move(c.out_mem);
    c = Conn{};
    c.gen = gen;
    c.out_mem = std::move(mem);
    c.out.data = c.out_mem.get();
    c.fd = cqe.res;
    c.scanner.greet(c.out);
    mark(c, slot);
}

void Worker::on_recv(Conn& c, const io_uring_cqe& cqe) noexcept {
    if (!(cqe.flags & IORING_CQE_F_MORE)) c.recv_armed = false;
    if (cqe.res <= 0) {
        // 0: the peer closed; ECANCELED: our own cancel; ENOBUFS: every buffer is in use, and
        // the recv is armed again at the end of the batch. XXX: if paused clients held them all
        // (kMaxHeld each), that would retry every batch until one of them reads or goes.
        if (cqe.res != -ENOBUFS && cqe.res != -ECANCELED) fail(c);
        return;
    }
    const unsigned bid = cqe.flags >> IORING_CQE_BUFFER_SHIFT;
    const auto len = unsigned(cqe.res);
    if (c.closing) {
        recycle(bid);
        return;
    }
    if (c.held_head >= 0) {  // older bytes wait for room in `out`: these go behind them
        if (c.held_count >= kMaxHeld) {
            recycle(bid);
            fail(c);  // a client that sends on and never reads its replies
            return;
        }
        held_next_[c.held_tail] = bid;
        held_next_[bid] = unsigned(-1);
        held_len_[bid] = len;
        c.held_tail = int(bid);
        ++c.held_count;
        return;
    }
    const Scan s = c.scanner.feed({bufs_ + std::size_t(bid) * kBufSize, len}, c.out);
    if (s.close) c.closing = true;
    if (s.consumed == len || s.close) {
        recycle(bid);
        return;
    }
    // `out` is full: keep the rest of this buffer and stop reading until a send drains it.
    c.held_head = c.held_tail = int(bid);
    held_next_[bid] = unsigned(-1);
    held_len_[bid] = len;
    c.held_off = std::uint32_t(s.consumed);
    c.held_count = 1;
    c.paused = true;
}

// After a send made room: read on through the held buffers.
void Worker::feed_held(Conn& c) noexcept {
    while (c.held_head >= 0 && !c.closing) {
        const auto bid = unsigned(c.held_head);
        const Scan s = c.scanner.feed({bufs_ + std::size_t(bid) * kBufSize + c.held_off, held_len_[bid] - c.held_off},
                                      c.out);
        c.held_off += std::uint32_t(s.consumed);
        if (s.close) c.closing = true;
        if (c.held_off < held_len_[bid] && !s.close) return;  // full again
        c.held_head = held_next_[bid] == unsigned(-1) ? -1 : int(held_next_[bid]);
        c.held_off = 0;
        --c.held_count;
        recycle(bid);
    }
    if (c.held_head < 0) {
        c.held_tail = -1;
        c.paused = false;
    } else {
        drop_held(c);  // QUIT came: the rest is never read
    }
}

void Worker::drop_held(Conn& c) noexcept {
    while (c.held_head >= 0) {
        const auto bid = unsigned(c.held_head);
        c.held_head = held_next_[bid] == unsigned(-1) ? -1 : int(held_next_[bid]);
        recycle(bid);
    }
    c.held_tail = -1;
    c.held_off = 0;
    c.held_count = 0;
}

void Worker::on_send(Conn& c, const io_uring_cqe& cqe) noexcept {
    c.send_inflight = false;
    if (cqe.res < 0) {
        fail(c);
        return;
    }
    // A short send leaves the tail at the front for the next one; replies added behind the
    // send in flight move down with it.
    const auto n = std::size_t(cqe.res);
    std::memmove(c.out.data, c.out.data + n, c.out.size - n);
    c.out.size -= n;
    if (c.held_head >= 0) feed_held(c);
}

void Worker::fail(Conn& c) noexcept {
    c.closing = true;
    c.failed = true;
    drop_held(c);
}

void Worker::flush() noexcept {
    if (!accept_armed_ && !stop_) arm_accept();
    // flush_one may free a slot; `dirty_` holds indices, so that is safe here.
    for (std::size_t i = 0; i < dirty_.size(); ++i) {
        Conn& c = conns_[dirty_[i]];
        c.dirty = false;
        flush_one(c, dirty_[i]);
    }
    dirty_.clear();
}

// The end of a batch for one connection: one send of everything it has to say, the recv
// re-armed or cancelled, and the slot freed once nothing of it is in flight.
void Worker::flush_one(Conn& c, std::uint32_t slot) noexcept {
    if (c.fd < 0) return;
    if (!c.send_inflight && c.out.size > 0 && !c.failed) {
        io_uring_sqe* s = sqe();
        io_uring_prep_send(s, c.fd, c.out.data, c.out.size, MSG_NOSIGNAL);
        io_uring_sqe_set_data64(s, user_data(kSend, c.gen, slot));
        c.send_inflight = true;
    }
    const bool want_recv = !c.closing && !c.paused;
    if (want_recv && !c.recv_armed) arm_recv(c, slot);
    if (!want_recv && c.recv_armed && !c.cancel_sent) {
        io_uring_sqe* s = sqe();
        io_uring_prep_cancel64(s, user_data(kRecv, c.gen, slot), 0);
        io_uring_sqe_set_data64(s, user_data(kIgnored, 0, 0));
        c.cancel_sent = true;
    }
    if (c.closing && !c.recv_armed && !c.send_inflight && (c.out.size == 0 || c.failed)) {
        ::close(c.fd);
        c.fd = -1;
        free_.push_back(slot);
    }
}

}  // namespace ringmail::floor
