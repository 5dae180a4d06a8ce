// io/event_file.cpp — the writer: drain the queue, one write(2) a batch; sleep on `pending_`
// (a futex through std::atomic::wait) while nothing is posted. No lost wake-up, as in
// io/mailbox.hpp: a poster pushes, then exchange(true); the writer exchange(false)s before
// it pops, and waits only while the flag is still false.
#include "io/event_file.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>

#include "base/log.hpp"

namespace ringmail::io {
namespace {

int open_append(const std::string& path) {
    return ::open(path.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
}

}  // namespace

EventFile::EventFile(std::string path, std::size_t capacity_pow2) : path_(std::move(path)), queue_(capacity_pow2) {
    fd_ = open_append(path_);
    if (fd_ < 0) throw std::runtime_error("event_log: cannot open " + path_ + ": " + std::strerror(errno));
    thread_ = std::thread([this] { run(); });
}

EventFile::~EventFile() {
    stopping_.store(true, std::memory_order_release);
    wake();
    thread_.join();
    ::close(fd_);
}

void EventFile::post(std::string& lines) noexcept {
    if (lines.empty()) return;
    if (!queue_.push(std::move(lines))) dropped_.fetch_add(1, std::memory_order_relaxed);
    lines.clear();
    wake();
}

void EventFile::reopen() noexcept {
    reopen_.store(true, std::memory_order_release);
    wake();
}

void EventFile::wake() noexcept {
    if (!pending_.exchange(true, std::memory_order_acq_rel)) pending_.notify_one();
}

void EventFile::drain() noexcept {
    std::string batch;
    while (queue_.pop(batch)) {
        const char* p = batch.data();
        std::size_t left = batch.size();
        while (left > 0) {
            const ssize_t n = ::write(fd_, p, left);
            if (n < 0 && errno == EINTR) continue;
            if (n <= 0) {  // a full disk: these lines are lost, the next batch tries again
                log::note("event_log: writing " + path_ + ": " + std::strerror(errno));
                break;
            }
            p += n;
            left -= static_cast<std::size_t>(n);
        }
    }
}

void EventFile::run() noexcept {
    std::uint64_t dropped_noted = 0;
    for (;;) {
        pending_.exchange(false, std::memory_order_acq_rel);
        if (reopen_.exchange(false, std::memory_order_acq_rel)) {
            drain();  // what was posted before the signal goes to the old file
            const int fd = open_append(path_);
            if (fd < 0) {
                log::note("event_log: reopening " + path_ + ": " + std::strerror(errno) + "; keeping the old file");
            } else {
                ::close(fd_);
                fd_ = fd;
            }
        }
        drain();
        if (const std::uint64_t d = dropped(); d != dropped_noted) {
            log::note("event_log: " + std::to_string(d - dropped_noted) + " batch(es) of lines dropped (queue full)");
            dropped_noted = d;
        }
        if (stopping_.load(std::memory_order_acquire)) {
            drain();
            return;
        }
        pending_.wait(false, std::memory_order_acquire);
    }
}

}  // namespace ringmail::io
