// api/email_queue.hpp — the original web platform's mail calls on ringmail's queue:
// email_send, email_queue, email_immediate, email_batch, email_status, email_merge and
// email_mxlookup (issue 15). Queued messages go to relay::Store in one durable commit per
// call (a batch: one commit for all of it); immediate ones go out now with smtp::Client.
// Calls block on disk or network: never call them on a reactor thread.
#pragma once
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "api/email_compose.hpp"
#include "client/smtp_client.hpp"
#include "mime/merge.hpp"
#include "relay/mx_result.hpp"
#include "relay/store.hpp"

namespace ringmail {

// The original's limit on queued messages (immediate sends have none).
inline constexpr std::uint64_t kEmailMaxQueued = 8 * 1024 * 1024;

// The SMTP server for one message, as the original's -host, -port, -username, -password,
// -ssl and -timeout give it. Empty host: the recipients' MX hosts (immediate), or the
// relay's own route (queued).
struct Smarthost {
    std::string host;
    int port = 25;
    std::string user, password;              // AUTH when the password is not empty
    smtp::Mode tls = smtp::Mode::Plain;      // -ssl: smtp::Mode::Tls
    int timeout_s = 60;
    bool verify = true;                      // certificate check (tests turn it off)
    std::string ca_file;
};

// The client options for `s`: its certificate check, and this machine's name for EHLO.
smtp::Options smtp_options(const Smarthost& s);

// email_send's parameters: the message, then how it is merged, queued or sent.
struct EmailSend : EmailMessage {
    // Merge: "#Name#" markers in the subject, text and HTML. `tokens` are the defaults;
    // `merge` maps a recipient's address (any case) to its own tokens, which win. With
    // either set, each recipient named in `merge` gets a message of its own; the others
    // share one merged with the defaults. A marker with no value becomes empty.
    mime::Tokens tokens;
    std::map<std::string, mime::Tokens> merge;
    relay::Priority priority = relay::Priority::Medium;
    std::optional<relay::Time> not_before;  // the original's -date: no attempt before this
    // Immediate sends go through it; queued messages keep it in the queue (password too:
    // the queue directory is the owner's only) and the relay delivers them through it
    // instead of its own route. `ca_file` works for immediate sends only.
    Smarthost smarthost;
    bool immediate = false;  // send now, not through the queue, without the 8 MB limit
};

// email_queue's and email_immediate's parameters: a composed message (EmailCompose's
// data(), from() and recipients()).
struct EmailQueued {
    std::string data;                     // the MIME text
    std::string from;                     // envelope sender, bare; empty: the null sender <>
    std::vector<std::string> recipients;  // bare addresses
    // Merged straight into `data` (values inserted as given, so markers must be in a
    // 7bit or 8bit part: quoted-printable may split one at a soft line break, base64 hides it).
    mime::Tokens tokens;
    std::map<std::string, mime::Tokens> merge;
    relay::Priority priority = relay::Priority::Medium;
    std::optional<relay::Time> not_before;
    Smarthost smarthost;  // as in EmailSend
};

struct EmailResult {
    std::string id;                      // the queue id (the original's email_result); with a
                                         // merge, the first message's; empty when sent now
    std::vector<std::string> ids;        // every message queued, in order
    std::vector<smtp::SendResult> sent;  // immediate: each message's result
    std::string error;                   // empty when all went well
    explicit operator bool() const noexcept { return error.empty(); }
};

// The queue the calls write to: relay::Store in a queue directory ([relay] queue_dir).
class MailQueue {
public:
    // Opens (and makes) the queue in `queue_dir`; throws relay::StoreOpenError.
    static std::unique_ptr<MailQueue> open(const std::string& queue_dir,
                                           std::uint64_t max_message_size = kEmailMaxQueued);
    // On a store the caller owns (and keeps alive).
    explicit MailQueue(relay::Store& store, std::uint64_t max_message_size = kEmailMaxQueued) noexcept
        : store_(&store), max_(max_message_size) {}
    relay::Store& store() noexcept { return *store_; }
    std::uint64_t max_message_size() const noexcept { return max_; }  // 0: no limit

private:
    std::unique_ptr<relay::Store> owned_;
    relay::Store* store_ = nullptr;
    std::uint64_t max_ = kEmailMaxQueued;
};

// Messages gathered for one durable commit (the original's email_batch): nothing is on disk
// until commit(), which queues all of them or none.
class EmailBatch {
public:
    explicit EmailBatch(MailQueue& queue) noexcept : q_(queue) {}
    // Composes and merges; queued messages wait for commit(), immediate ones go out now (their
    // results in the returned `sent`). An error adds nothing.
    EmailResult send(const EmailSend& message);
    EmailResult queue(const EmailQueued& message);
    std::size_t size() const noexcept { return pending_.size(); }
    // One Store::enqueue for everything added: the ids, in the order the messages were added.
    EmailResult commit();

private:
    EmailResult add(std::string data, const std::string& from, std::vector<std::string> recipients,
                    relay::Priority priority, std::optional<relay::Time> not_before, const Smarthost& smarthost);
    MailQueue& q_;
    std::vector<relay::NewMessage> pending_;
};

// Queues the message (one commit, however many messages a merge makes), or sends it now
// with `immediate`. The result's id is what email_status takes.
EmailResult email_send(MailQueue& queue, const EmailSend& message);
EmailResult email_queue(MailQueue& queue, const EmailQueued& message);
// Sends now: through message.smarthost, or to each recipient domain's MX hosts on port 25.
EmailResult email_immediate(const EmailQueued& message);
// Runs `block`, then queues everything it added to the batch in one durable commit.
// The original suspended its queue's housekeeping for the block; here the block's messages
// share one group commit (bench/email_batch: several times the rate of one commit each).
EmailResult email_batch(MailQueue& queue, const std::function<void(EmailBatch&)>& block);
// "queued", "sent" or "error"; empty for an id the queue does not know (or not an id).
std::string email_status(MailQueue& queue, std::string_view id);
// mime::merge_tokens: "#Name#" markers of any text filled from `tokens`.
std::string email_merge(std::string_view text, const mime::Tokens& tokens, std::string_view charset = {},
                        std::string_view transfer_encoding = {});
// The recipient domain's MX hosts as the relay sees them (relay::resolve_mx_sync, with
// /etc/resolv.conf's servers).
relay::MxResult email_mxlookup(std::string_view domain);

}  // namespace ringmail
