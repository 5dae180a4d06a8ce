// io/stream.cpp — the stream's completions. A receive hands its provided buffer's bytes
// on (through TLS when active) and gives the buffer back at once; one send is in flight
// at a time and a short send sends the rest; a connect carries a linked timeout.
#include "io/stream.hpp"

#include <netinet/in.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <new>

namespace ringmail::io {
namespace {

// Decrypted bytes of one receive; the ring's thread handles one completion at a time.
thread_local std::string t_plain;

}  // namespace

Stream::~Stream() {
    if (fd_ >= 0) ::close(fd_);
}

void Stream::adopt(int fd) noexcept {
    fd_ = fd;
    want_input_ = true;
    arm_recv();
}

bool Stream::connect(const sockaddr* addr, socklen_t len, std::uint64_t timeout_ms) noexcept {
    fd_ = ::socket(addr->sa_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd_ < 0) {
        error_ = errno;
        return false;
    }
    target_.reset(new (std::nothrow) sockaddr_storage{});
    if (!target_ || len > sizeof(sockaddr_storage)) {
        error_ = ENOMEM;
        ::close(fd_);
        fd_ = -1;
        return false;
    }
    std::memcpy(target_.get(), addr, len);
    ring_.reserve(2);  // the connect and its timeout go in one submission, or not linked
    io_uring_sqe* s = ring_.prep(handler_, payload(kConnect));
    io_uring_prep_connect(s, fd_, reinterpret_cast<const sockaddr*>(target_.get()), len);
    s->flags |= IOSQE_IO_LINK;
    // The kernel copies the timespec when it takes the SQE, so one per thread is enough if
    // we submit before the next connect prepares its own.
    static thread_local __kernel_timespec ts;
    ts.tv_sec = static_cast<long long>(timeout_ms / 1000);
    ts.tv_nsec = static_cast<long long>(timeout_ms % 1000) * 1000000;
    io_uring_prep_link_timeout(ring_.prep(handler_, payload(kTimeout)), &ts, 0);
    ring_.submit();  // now, while `ts` holds this stream's timeout
    ops_ += 2;
    connecting_ = true;
    return true;
}

bool Stream::start_tls(SSL_CTX* ctx, TlsStream::Side side, std::uint64_t deadline_ms, std::string& clear_first,
                       std::string_view sni, bool verify_name) noexcept {
    clear_ += clear_first;
    clear_first.clear();
    tls_ = TlsStream::create(ctx, side, sni, verify_name);
    if (!tls_) return false;
    handshaking_ = true;
    deadline_ = deadline_ms;
    if (side == TlsStream::Side::Client) {
        t_plain.clear();
        (void)tls_->receive({}, t_plain);  // the ClientHello, into the output BIO
    }
    return true;
}

void Stream::arm_recv() noexcept {
    if (fd_ < 0 || recv_armed_ || paused_ || !want_input_) return;
    io_uring_sqe* s = ring_.prep(handler_, payload(kRecv));
    io_uring_prep_recv_multishot(s, fd_, nullptr, 0, 0);
    s->flags |= IOSQE_BUFFER_SELECT;
    s->buf_group = buffers_.group();
    recv_armed_ = true;
    ++ops_;
}

void Stream::cancel_recv() noexcept {
    io_uring_prep_cancel64(ring_.prep_ignored(), Ring::user_data(handler_, payload(kRecv)), 0);
}

void Stream::pause_reading() noexcept {
    if (paused_) return;
    paused_ = true;
    if (recv_armed_) cancel_recv();
}

void Stream::resume_reading() noexcept {
    paused_ = false;
    arm_recv();
}

void Stream::stop_reading() noexcept { want_input_ = false; }

bool Stream::has_pending_output() const noexcept { return !clear_.empty() || (tls_ && tls_->has_output()); }

bool Stream::send(std::string& plain, bool last) noexcept {
    if (send_armed_ || fd_ < 0 || connecting_) return true;
    bool ok = true;
    sending_.swap(clear_);  // usually empty; `sending_` is empty here
    clear_.clear();
    if (!tls_) {
        if (sending_.empty()) sending_.swap(plain);
        else sending_ += plain;
    } else if (tls_->established()) {
        if (!plain.empty()) ok = tls_->write(plain);
        if (last) tls_->close_notify();
        tls_->take_output(sending_);
    } else {
        // Handshake records (or the alert) only: the plaintext waits in `plain` for
        // TlsReady, since nothing may leave unencrypted once TLS has begun.
        tls_->take_output(sending_);
        if (!sending_.empty()) {
            sent_ = 0;
            arm_send();
        }
        return true;
    }
    plain.clear();
    if (!sending_.empty()) {
        sent_ = 0;
        arm_send();
    }
    return ok;
}

void Stream::arm_send() noexcept {
    io_uring_sqe* s = ring_.prep(handler_, payload(kSend));
    io_uring_prep_send(s, fd_, sending_.data() + sent_, sending_.size() - sent_, MSG_NOSIGNAL);
    send_armed_ = true;
    ++ops_;
}

void Stream::close() noexcept {
    want_input_ = false;
    if (fd_ < 0) return;
    if (recv_armed_) cancel_recv();
    // The requests in flight keep the socket referenced; shutdown sends the FIN now. It
    // stays a syscall: io_uring runs IORING_OP_SHUTDOWN on a worker thread (a context
    // switch each). The close goes with the next submit, quiet unless it fails.
    ::shutdown(fd_, SHUT_RDWR);
    io_uring_sqe* s = ring_.prep_ignored();
    io_uring_prep_close(s, fd_);
    s->flags |= IOSQE_CQE_SKIP_SUCCESS;
    fd_ = -1;
    handshaking_ = false;
}

void Stream::dispatch(const io_uring_cqe& cqe, std::uint64_t op, Emit emit, void* ctx) noexcept {
    switch (op) {
    case kRecv:
        on_recv(cqe, emit, ctx);
        return;
    case kSend:
        on_send(cqe.res, emit, ctx);
        return;
    case kConnect:
        --ops_;
        connecting_ = false;
        target_.reset();
        if (fd_ < 0) return;
        if (cqe.res < 0) {
            // The linked timeout cancels a connect that did not finish in time.
            error_ = cqe.res == -ECANCELED ? ETIMEDOUT : -cqe.res;
            emit(ctx, StreamEvent::Failed, {});
            return;
        }
        want_input_ = true;
        arm_recv();
        emit(ctx, StreamEvent::Connected, {});
        return;
    default:  // kTimeout: -ETIME when it fired, -ECANCELED when the connect won
        --ops_;
        return;
    }
}

void Stream::on_recv(const io_uring_cqe& cqe, Emit emit, void* ctx) noexcept {
    const int res = cqe.res;
    if (!(cqe.flags & IORING_CQE_F_MORE)) {
        recv_armed_ = false;
        --ops_;
    } else if (paused_) {
        // Still receiving after a pause: the cancel missed (a receive re-armed in the same
        // submission as the cancel may not be cancellable yet, and a flooding peer keeps
        // it busy). Ask again; each try costs one SQE and the flood ends at the next.
        cancel_recv();
    }
    if (res > 0) {
        const unsigned bid = BufferRing::id(cqe.flags);
        const std::string_view bytes(buffers_.data(bid), static_cast<std::size_t>(res));
        if (fd_ >= 0 && want_input_) {
            if (tls_) tls_in(bytes, emit, ctx);
            else emit(ctx, StreamEvent::Data, bytes);
        }
        buffers_.recycle(bid);
    } else if (res == 0) {
        want_input_ = false;
        if (fd_ >= 0) emit(ctx, StreamEvent::PeerClosed, {});
        return;
    } else if (res != -ENOBUFS && res != -ECANCELED) {
        error_ = -res;
        want_input_ = false;
        if (fd_ >= 0) emit(ctx, StreamEvent::Failed, {});  // reset: nobody is left to read replies
        return;
    }
    if (!recv_armed_) arm_recv();
}

// Ciphertext in: handshake, then decrypted bytes on as on a plain stream.
void Stream::tls_in(std::string_view cipher, Emit emit, void* ctx) noexcept {
    t_plain.clear();
    const TlsStream::Status st = tls_->receive(cipher, t_plain);
    if (tls_->has_output()) emit(ctx, StreamEvent::Writable, {});  // handshake records, alerts
    if (st == TlsStream::Status::Failed) {
        // A failed handshake, plaintext on a TLS port, a bad record: the alert OpenSSL
        // queued goes out with the next send; nothing more of this stream is read.
        handshaking_ = false;
        want_input_ = false;
        emit(ctx, StreamEvent::TlsFailed, {});
        return;
    }
    if (handshaking_ && tls_->established()) {
        handshaking_ = false;
        emit(ctx, StreamEvent::TlsReady, {});
    }
    if (!t_plain.empty() && want_input_) emit(ctx, StreamEvent::Data, t_plain);
    if (st == TlsStream::Status::Closed && want_input_) {  // close_notify: as a FIN
        want_input_ = false;
        emit(ctx, StreamEvent::PeerClosed, {});
    }
}

void Stream::on_send(int res, Emit emit, void* ctx) noexcept {
    send_armed_ = false;
    --ops_;
    if (fd_ < 0) return;
    if (res < 0) {
        error_ = -res;
        emit(ctx, StreamEvent::Failed, {});
        return;
    }
    sent_ += static_cast<std::size_t>(res);
    bytes_sent_ += static_cast<std::uint64_t>(res);
    if (sent_ < sending_.size()) {  // short send: the rest goes next
        arm_send();
        return;
    }
    sending_.clear();
    emit(ctx, StreamEvent::Writable, {});
}

}  // namespace ringmail::io
