// smtpd/queue_writer.cpp — one writer thread; a batch of at most 512 messages is one
// store commit (the store writes the bodies, syncs them, then commits their rows once).
#include "smtpd/queue_writer.hpp"

#include <ctime>

#include "base/log.hpp"
#include "smtpd/maildir.hpp"  // received_field

namespace ringmail::smtpd {

QueueWriter::QueueWriter(std::unique_ptr<relay::Store> store, std::string hostname, std::function<void()> queued)
    : store_(std::move(store)), hostname_(std::move(hostname)), queued_(std::move(queued)) {
    writer_.emplace(1, 512, [this](std::vector<std::unique_ptr<Job>>& batch) { commit(batch); });
}

QueueWriter::~QueueWriter() { stop(); }

bool QueueWriter::submit(std::unique_ptr<Job>& job) noexcept { return writer_->submit(job); }

void QueueWriter::stop() { writer_->stop(); }

void QueueWriter::commit(std::vector<std::unique_ptr<Job>>& batch) {
    // Clients that left before their 250 were never told the message was taken.
    std::erase_if(batch, [](std::unique_ptr<Job>& job) {
        if (!job->dead()) return false;
        complete(*job, proto::Outcome::TempFail);
        return true;
    });
    if (batch.empty()) return;
    messages_.resize(batch.size());
    for (std::size_t i = 0; i < batch.size(); ++i) {
        Mail& m = batch[i]->mail;
        relay::NewMessage& n = messages_[i];
        n.sender = m.sender;
        n.recipients = m.recipients;
        n.priority = relay::Priority::Medium;
        n.not_before.reset();
        n.body_file.clear();
        // RFC 5321 4.4: a relay adds its Received field at the top.
        n.body = received_field(m, hostname_, std::to_string(++counter_));
        n.body += m.original;
        m.original.clear();
        m.original.shrink_to_fit();
    }
    ids_.clear();
    const relay::StoreResult r = store_->enqueue(messages_, static_cast<relay::Time>(std::time(nullptr)), ids_);
    for (auto& n : messages_) {
        n.body.clear();
        n.body.shrink_to_fit();
    }
    if (!r || ids_.size() != batch.size()) {
        log::note("queue: " + (r.detail.empty() ? std::string("enqueue failed") : r.detail) + "; answering 451");
        for (auto& job : batch) complete(*job, proto::Outcome::TempFail, "Cannot queue the message, try again later");
        return;
    }
    for (std::size_t i = 0; i < batch.size(); ++i)
        complete(*batch[i], proto::Outcome::Accept, "OK queued as " + ids_[i].text());
    if (queued_) queued_();
}

}  // namespace ringmail::smtpd
