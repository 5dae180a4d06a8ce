// io/ring_writer.cpp — IORING_OP_WRITE at the descriptor's position (offset -1), resubmitted
// for the rest after a short write; the next buffer goes when the last write completes.
#include "io/ring_writer.hpp"

#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>

namespace ringmail::io {

RingWriter::RingWriter(Ring& ring, int fd) : ring_(ring), fd_(fd), id_(ring.add(*this)) {
    struct stat st{};
    file_ = ::fstat(fd, &st) == 0 && (S_ISREG(st.st_mode) || S_ISBLK(st.st_mode));
}

void RingWriter::write_now(std::string& text) noexcept {
    for (std::string_view rest = text; !rest.empty();) {
        const ssize_t w = ::write(fd_, rest.data(), rest.size());
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) {
            lost_ += rest.size();
            break;
        }
        rest.remove_prefix(static_cast<std::size_t>(w));
    }
    text.clear();
}

void RingWriter::post(std::string& text) noexcept {
    if (text.empty()) return;
    if (file_) return write_now(text);
    if (!busy_) {
        inflight_.swap(text);  // text takes the spare buffer back
        text.clear();
        off_ = 0;
        start();
        return;
    }
    if (pending_.size() + text.size() > kMaxPending) {  // the descriptor cannot keep up
        lost_ += text.size();
    } else {
        pending_ += text;
    }
    text.clear();
}

void RingWriter::start() noexcept {
    io_uring_sqe* s = ring_.prep(id_, 0);
    io_uring_prep_write(s, fd_, inflight_.data() + off_, static_cast<unsigned>(inflight_.size() - off_),
                        static_cast<std::uint64_t>(-1));
    busy_ = true;
}

void RingWriter::on_completion(const io_uring_cqe& cqe, std::uint64_t) noexcept {
    if (cqe.res == -EINTR || cqe.res == -EAGAIN) return start();
    if (cqe.res > 0 && off_ + static_cast<std::size_t>(cqe.res) < inflight_.size()) {
        off_ += static_cast<std::size_t>(cqe.res);
        return start();
    }
    if (cqe.res <= 0) lost_ += inflight_.size() - off_;
    busy_ = false;
    inflight_.clear();
    off_ = 0;
    if (!pending_.empty()) {
        inflight_.swap(pending_);
        start();
    }
}

void RingWriter::finish(std::uint64_t max_ms) noexcept {
    const std::uint64_t until = ring_.now_ms() + max_ms;
    while (busy_ && ring_.now_ms() < until) {
        static constexpr __kernel_timespec kShort{0, 20'000'000};
        if (ring_.turn(&kShort) < 0) break;
    }
    if (busy_) return;  // the write still out owns its buffer; what waits is lost
    write_now(pending_);
}

}  // namespace ringmail::io
