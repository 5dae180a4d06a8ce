// relay/store.cpp — names of priorities and statuses as the command line and JSON write
// them, and the Body descriptor's ownership.
#include "relay/store.hpp"

#include <unistd.h>

namespace ringmail::relay {

std::string_view name(Priority p) noexcept {
    switch (p) {
    case Priority::High: return "high";
    case Priority::Medium: return "medium";
    case Priority::Low: return "low";
    }
    return "medium";
}

std::string_view name(Status s) noexcept {
    switch (s) {
    case Status::Queued: return "queued";
    case Status::Sent: return "sent";
    case Status::Error: return "error";
    }
    return "queued";
}

std::optional<Priority> parse_priority(std::string_view s) noexcept {
    for (const Priority p : {Priority::High, Priority::Medium, Priority::Low})
        if (s == name(p)) return p;
    return std::nullopt;
}

std::optional<Status> parse_status(std::string_view s) noexcept {
    for (const Status st : {Status::Queued, Status::Sent, Status::Error})
        if (s == name(st)) return st;
    return std::nullopt;
}

Body& Body::operator=(Body&& o) noexcept {
    if (this != &o) {
        if (fd_ >= 0) ::close(fd_);
        fd_ = o.fd_;
        size_ = o.size_;
        offset_ = o.offset_;
        o.fd_ = -1;
    }
    return *this;
}

Body::~Body() {
    if (fd_ >= 0) ::close(fd_);
}

}  // namespace ringmail::relay
