// smtpd/maildir.cpp — group commit into a Maildir. For a batch of one: fsync the file;
// for more: one syncfs() covers every file of the batch. Then the renames into new/ and
// one fsync of new/ make them visible durably; only then do the 250s go out. A crash
// leaves at most files in tmp/, never a partial file in new/.
#include "smtpd/maildir.hpp"

#include "base/date.hpp"
#include "base/log.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <chrono>
#include <cstring>
#include <ctime>
#include <stdexcept>

namespace ringmail::smtpd {
namespace {

void make_dir(const std::string& path) {
    if (::mkdir(path.c_str(), 0700) != 0 && errno != EEXIST)
        throw std::runtime_error("maildir " + path + ": " + std::strerror(errno));
}

int open_dir(const std::string& path) {
    const int fd = ::open(path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) throw std::runtime_error("maildir " + path + ": " + std::strerror(errno));
    return fd;
}

bool write_all(int fd, const std::string& a, const std::string& b) {
    iovec iov[2] = {{const_cast<char*>(a.data()), a.size()}, {const_cast<char*>(b.data()), b.size()}};
    int n = 2;
    iovec* v = iov;
    while (n > 0) {
        const ssize_t w = ::writev(fd, v, n);
        if (w < 0) {
            if (errno == EINTR) continue;
            return false;
        }
        auto left = static_cast<std::size_t>(w);
        while (n > 0 && left >= v->iov_len) {
            left -= v->iov_len;
            ++v;
            --n;
        }
        if (n > 0) {
            v->iov_base = static_cast<char*>(v->iov_base) + left;
            v->iov_len -= left;
        }
    }
    return true;
}

}  // namespace

std::string trace_header(const Mail& mail, const std::string& hostname, const std::string& id) {
    // The envelope goes into the file as Postfix's local delivery writes it: Return-Path
    // for the sender, one Delivered-To per recipient (Bcc recipients are nowhere else).
    std::string h = "Return-Path: <" + mail.sender + ">\r\n";
    for (const auto& r : mail.recipients) h += "Delivered-To: " + r + "\r\n";
    return h + received_field(mail, hostname, id);
}

std::string received_field(const Mail& mail, const std::string& hostname, const std::string& id) {
    // RFC 3848: ESMTPS with TLS, ESMTPA/ESMTPSA after AUTH.
    std::string h = "Received: from " + mail.host + " ([" +
         mail.ip + "])\r\n\tby " + hostname + " (ringmail) with " + "ESMTP" + (mail.tls.empty() ? "" : "S") +
         (mail.user.empty() ? "" : "A") + " id " + id;
    if (mail.recipients.size() == 1) h += "\r\n\tfor <" + mail.recipients.front() + ">";
    h += "; ";
    h += base::rfc5322_date(std::time(nullptr));
    h += "\r\n";
    return h;
}

MaildirWriter::MaildirWriter(std::string dir, std::string hostname)
    : dir_(std::move(dir)), hostname_(std::move(hostname)) {
    make_dir(dir_);
    for (const char* sub : {"/tmp", "/new", "/cur"}) make_dir(dir_ + sub);
    tmp_fd_ = open_dir(dir_ + "/tmp");
    new_fd_ = open_dir(dir_ + "/new");
    // Maildir names must not contain '/' or ':' (the info separator).
    for (char& c : hostname_)
        if (c == '/' || c == ':') c = '_';
    writer_.emplace(1, 512, [this](std::vector<std::unique_ptr<Job>>& batch) { commit(batch); });
}

MaildirWriter::~MaildirWriter() {
    stop();
    if (tmp_fd_ >= 0) ::close(tmp_fd_);
    if (new_fd_ >= 0) ::close(new_fd_);
}

bool MaildirWriter::submit(std::unique_ptr<Job>& job) noexcept { return writer_->submit(job); }

void MaildirWriter::stop() { writer_->stop(); }

std::string MaildirWriter::unique_name(std::size_t size) {
    // time.MusecPpidQn.host (the Maildir convention), plus S=size as Dovecot reads it.
    const auto now = std::chrono::system_clock::now().time_since_epoch();
    const auto us = std::chrono::duration_cast<std::chrono::microseconds>(now).count();
    return std::to_string(us / 1000000) + ".M" + std::to_string(us % 1000000) + "P" +
           std::to_string(::getpid()) + "Q" + std::to_string(++counter_) + "." + hostname_ +
           ",S=" + std::to_string(size);
}

// The Maildir may have been removed, moved or recreated since the last batch (a cleanup
// job, an operator): the directories we hold would then be the wrong ones or gone. Two
// stat calls per batch find that out; the directories are made again and reopened.
bool MaildirWriter::ensure_dirs() {
    const auto same = [](const std::string& path, int fd) {
        struct stat a{}, b{};
        return fd >= 0 && ::stat(path.c_str(), &a) == 0 && ::fstat(fd, &b) == 0 && a.st_dev == b.st_dev &&
               a.st_ino == b.st_ino;
    };
    if (same(dir_ + "/tmp", tmp_fd_) && same(dir_ + "/new", new_fd_)) return true;
    try {
        make_dir(dir_);
        for (const char* sub : {"/tmp", "/new", "/cur"}) make_dir(dir_ + sub);
        const int t = open_dir(dir_ + "/tmp");
        const int n = open_dir(dir_ + "/new");
        if (tmp_fd_ >= 0) ::close(tmp_fd_);
        if (new_fd_ >= 0) ::close(new_fd_);
        tmp_fd_ = t;
        new_fd_ = n;
        log::note("maildir " + dir_ + ": directories were gone or replaced; made again");
        return true;
    } catch (const std::exception& e) {
        log::note(std::string(e.what()) + "; answering 451");
        return false;
    }
}

void MaildirWriter::commit(std::vector<std::unique_ptr<Job>>& batch) {
    // Messages of clients that left before their 250 are not written: they were never
    // accepted, and the client sends them again.
    std::erase_if(batch, [](std::unique_ptr<Job>& job) {
        if (!job->dead()) return false;
        complete(*job, proto::Outcome::TempFail);
        return true;
    });
    if (batch.empty()) return;
    if (!ensure_dirs()) {
        for (auto& job : batch) complete(*job, proto::Outcome::TempFail, "Cannot write to the Maildir, try again later");
        return;
    }
    struct Entry {
        std::string name;
        bool ok = false;
    };
    std::vector<Entry> entries(batch.size());
    std::size_t written = 0;
    for (std::size_t i = 0; i < batch.size(); ++i) {
        const Mail& m = batch[i]->mail;
        const std::string id = std::to_string(++counter_);
        const std::string header = trace_header(m, hostname_, id);
        entries[i].name = unique_name(header.size() + m.original.size());
        const int fd = ::openat(tmp_fd_, entries[i].name.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
        if (fd < 0) {
            log::note("maildir " + dir_ + "/tmp: " + std::strerror(errno) + "; answering 451");
            continue;
        }
        bool ok = write_all(fd, header, m.original);
        if (ok && batch.size() == 1) ok = ::fsync(fd) == 0;
        ok = (::close(fd) == 0) && ok;
        if (!ok) {
            log::note("maildir " + dir_ + "/tmp/" + entries[i].name + ": write or sync failed: " + std::strerror(errno) +
                      "; answering 451");
            ::unlinkat(tmp_fd_, entries[i].name.c_str(), 0);
            continue;
        }
        entries[i].ok = true;
        ++written;
    }
    bool synced = true;
    if (written > 0 && batch.size() > 1) synced = ::syncfs(tmp_fd_) == 0;
    bool renamed = false;
    for (auto& e : entries) {
        if (!e.ok) continue;
        if (!synced || ::renameat(tmp_fd_, e.name.c_str(), new_fd_, e.name.c_str()) != 0) {
            log::note("maildir " + dir_ + ": " + (synced ? "rename into new/" : "syncfs") + " failed: " +
                      std::strerror(errno) + "; answering 451");
            ::unlinkat(tmp_fd_, e.name.c_str(), 0);
            e.ok = false;
            continue;
        }
        renamed = true;
    }
    const bool dir_synced = !renamed || ::fsync(new_fd_) == 0;
    for (std::size_t i = 0; i < batch.size(); ++i) {
        if (entries[i].ok && dir_synced)
            complete(*batch[i], proto::Outcome::Accept, "OK queued as " + entries[i].name.substr(0, entries[i].name.find(',')));
        else
            complete(*batch[i], proto::Outcome::TempFail, "Cannot write to the Maildir, try again later");
    }
}

}  // namespace ringmail::smtpd
