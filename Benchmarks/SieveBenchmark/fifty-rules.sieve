require ["fileinto", "variables", "body", "imap4flags", "envelope", "subaddress", "relational", "comparator-i;ascii-numeric", "copy", "mailbox"];
# A user's filing rules as they grow over the years: lists, senders, subjects, spam score, body words.
if header :contains "list-id" "announce.lists.example.org" { fileinto :create "Lists.announce"; stop; }
if header :contains "list-id" "dev.lists.example.org" { fileinto :create "Lists.dev"; stop; }
if header :contains "list-id" "users.lists.example.org" { fileinto :create "Lists.users"; stop; }
if header :contains "list-id" "security.lists.example.org" { fileinto :create "Lists.security"; stop; }
if header :contains "list-id" "jobs.lists.example.org" { fileinto :create "Lists.jobs"; stop; }
if header :contains "list-id" "events.lists.example.org" { fileinto :create "Lists.events"; stop; }
if header :contains "list-id" "golang.lists.example.org" { fileinto :create "Lists.golang"; stop; }
if header :contains "list-id" "swift.lists.example.org" { fileinto :create "Lists.swift"; stop; }
if header :contains "list-id" "rust.lists.example.org" { fileinto :create "Lists.rust"; stop; }
if header :contains "list-id" "postgres.lists.example.org" { fileinto :create "Lists.postgres"; stop; }
if address :domain :is "from" "vendor0.example.com" { addflag "$Vendor"; fileinto "Vendors.vendor0"; stop; }
if address :domain :is "from" "vendor1.example.com" { addflag "$Vendor"; fileinto "Vendors.vendor1"; stop; }
if address :domain :is "from" "vendor2.example.com" { addflag "$Vendor"; fileinto "Vendors.vendor2"; stop; }
if address :domain :is "from" "vendor3.example.com" { addflag "$Vendor"; fileinto "Vendors.vendor3"; stop; }
if address :domain :is "from" "vendor4.example.com" { addflag "$Vendor"; fileinto "Vendors.vendor4"; stop; }
if address :domain :is "from" "vendor5.example.com" { addflag "$Vendor"; fileinto "Vendors.vendor5"; stop; }
if address :domain :is "from" "vendor6.example.com" { addflag "$Vendor"; fileinto "Vendors.vendor6"; stop; }
if address :domain :is "from" "vendor7.example.com" { addflag "$Vendor"; fileinto "Vendors.vendor7"; stop; }
if address :domain :is "from" "vendor8.example.com" { addflag "$Vendor"; fileinto "Vendors.vendor8"; stop; }
if address :domain :is "from" "vendor9.example.com" { addflag "$Vendor"; fileinto "Vendors.vendor9"; stop; }
if header :contains "subject" "invoice" { set "topic" "invoice"; }
if header :contains "subject" "receipt" { set "topic" "receipt"; }
if header :contains "subject" "order" { set "topic" "order"; }
if header :contains "subject" "shipping" { set "topic" "shipping"; }
if header :contains "subject" "password" { set "topic" "password"; }
if header :contains "subject" "meeting" { set "topic" "meeting"; }
if header :contains "subject" "agenda" { set "topic" "agenda"; }
if header :contains "subject" "report" { set "topic" "report"; }
if header :contains "subject" "newsletter" { set "topic" "newsletter"; }
if header :contains "subject" "offer" { set "topic" "offer"; }
if address :is ["to", "cc"] "team0@example.com" { fileinto :copy "Teams.team0"; }
if address :is ["to", "cc"] "team1@example.com" { fileinto :copy "Teams.team1"; }
if address :is ["to", "cc"] "team2@example.com" { fileinto :copy "Teams.team2"; }
if address :is ["to", "cc"] "team3@example.com" { fileinto :copy "Teams.team3"; }
if address :is ["to", "cc"] "team4@example.com" { fileinto :copy "Teams.team4"; }
if address :is ["to", "cc"] "team5@example.com" { fileinto :copy "Teams.team5"; }
if address :is ["to", "cc"] "team6@example.com" { fileinto :copy "Teams.team6"; }
if address :is ["to", "cc"] "team7@example.com" { fileinto :copy "Teams.team7"; }
if header :value "ge" :comparator "i;ascii-numeric" "x-spam-score" "8" { fileinto "Junk"; stop; }
if header :matches "subject" "[*] *" { set "tag" "${1}"; }
if body :text :contains "unsubscribe" { addflag "$Suspicious"; }
if body :text :contains "lottery" { addflag "$Suspicious"; }
if body :text :contains "viagra" { addflag "$Suspicious"; }
if body :text :contains "bitcoin" { addflag "$Suspicious"; }
if body :text :contains "prince" { addflag "$Suspicious"; }
if envelope :detail :matches "to" "*" { set "detail" "${1}"; }
if string :is "${detail}" "" { } else { fileinto "Plus.${detail}"; stop; }
if exists "x-mailing-list" { fileinto "Lists.other"; stop; }
if size :over 5M { fileinto "Large"; stop; }
if string :is "${topic}" "invoice" { fileinto "Finance"; }
if address :localpart :is "from" ["noreply", "no-reply", "donotreply"] { addflag "\\Seen"; }
if not exists "message-id" { fileinto "Junk"; stop; }
keep;
