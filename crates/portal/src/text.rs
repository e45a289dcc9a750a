//! The portal's words, Swedish first, English beside. Templates ask [`Text::get`] by key; a
//! test checks that every key a template uses is here, so a missing translation fails the build
//! of the test suite rather than showing a key to a person.

/// The languages the portal speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Lang {
    #[default]
    Sv,
    En,
}

impl Lang {
    pub fn code(self) -> &'static str {
        match self {
            Lang::Sv => "sv",
            Lang::En => "en",
        }
    }

    pub fn parse(code: &str) -> Option<Lang> {
        match code {
            "sv" => Some(Lang::Sv),
            "en" => Some(Lang::En),
            _ => None,
        }
    }

    /// The other language, which the header offers.
    pub fn other(self) -> Lang {
        match self {
            Lang::Sv => Lang::En,
            Lang::En => Lang::Sv,
        }
    }
}

/// The words of one language.
#[derive(Debug, Clone, Copy)]
pub struct Text(pub Lang);

impl Text {
    /// The text for `key`; the key itself if there is none (the test forbids that).
    pub fn get<'a>(&self, key: &'a str) -> &'a str {
        match MESSAGES.iter().find(|(k, _, _)| *k == key) {
            Some((_, sv, en)) => match self.0 {
                Lang::Sv => sv,
                Lang::En => en,
            },
            None => key,
        }
    }
}

/// Key, Swedish, English.
pub(crate) const MESSAGES: &[(&str, &str, &str)] = &[
    ("portal", "Utbytesportalen", "Exchange portal"),
    ("skip", "Hoppa till innehållet", "Skip to content"),
    ("language", "English", "Svenska"),
    ("signed_in_as", "Inloggad som", "Signed in as"),
    ("logout", "Logga ut", "Sign out"),
    ("nav", "Huvudmeny", "Main menu"),
    ("nav.home", "Start", "Home"),
    ("nav.offerings", "Sök information", "Find information"),
    ("nav.requests", "Mina förfrågningar", "My requests"),
    ("nav.review", "Granskning", "Review"),
    ("nav.audit", "Tillsyn", "Audit"),
    ("nav.users", "Konton", "Accounts"),
    ("nav.published", "Publicerade erbjudanden", "Published offerings"),
    ("login.title", "Logga in", "Sign in"),
    ("login.username", "Användarnamn", "Username"),
    ("login.password", "Lösenord", "Password"),
    ("login.submit", "Logga in", "Sign in"),
    ("login.rejected", "Fel användarnamn eller lösenord.", "Wrong username or password."),
    ("login.locked", "Kontot är låst efter upprepade misslyckade inloggningar. Försök igen efter", "The account is locked after repeated failed sign-ins. Try again after"),
    ("login.disabled", "Kontot är avstängt. Kontakta administratören.", "The account is disabled. Contact the administrator."),
    ("login.throttled", "För många misslyckade inloggningsförsök härifrån. Försök igen om en stund.", "Too many failed sign-in attempts from here. Try again in a while."),
    ("review.not_yours", "Granskningar av det här erbjudandet beslutas av jurister vid en annan enhet.", "Reviews of this offering are decided by reviewers of another unit."),
    ("oidc.foreign_unit", "Inloggningstjänsten uppger en enhet som inte hör till den här myndigheten. Kontakta administratören.", "The sign-in service gives a unit that is not this authority's. Contact the administrator."),
    ("oidc.sign_in", "Logga in via", "Sign in with"),
    ("oidc.or_local", "Eller logga in med ett lokalt konto:", "Or sign in with a local account:"),
    ("oidc.continue", "Fortsätt", "Continue"),
    ("oidc.signed_in", "Du är inloggad", "You are signed in"),
    ("oidc.signing_out", "Du är utloggad från portalen", "You are signed out of the portal"),
    ("oidc.failed", "Inloggningen misslyckades", "Sign-in failed"),
    ("oidc.unavailable", "Inloggningstjänsten kan inte nås just nu. Försök igen om en stund.", "The sign-in service cannot be reached right now. Try again in a while."),
    ("oidc.refused", "Inloggningstjänsten avbröt inloggningen.", "The sign-in service ended the sign-in."),
    ("oidc.no_flow", "Inloggningen hör inte till den här webbläsaren eller har gått ut. Börja om från inloggningssidan.", "The sign-in does not belong to this browser or has expired. Start again from the sign-in page."),
    ("oidc.invalid", "Svaret från inloggningstjänsten kunde inte verifieras.", "The sign-in service's answer could not be verified."),
    ("oidc.claims", "Inloggningstjänsten uppger ingen enhet eller befattning för dig. Kontakta administratören.", "The sign-in service gives no unit or position for you. Contact the administrator."),
    ("oidc.no_role", "Du har ingen roll i portalen hos inloggningstjänsten. Kontakta administratören.", "The sign-in service gives you no role in the portal. Contact the administrator."),
    ("oidc.local_account", "Ditt användarnamn hos inloggningstjänsten tillhör ett lokalt konto här. Kontakta administratören.", "Your username at the sign-in service belongs to a local account here. Contact the administrator."),
    ("login.busy", "För många inloggningar just nu. Försök igen om en liten stund.", "Too many sign-ins right now. Try again in a moment."),
    ("home.title", "Start", "Home"),
    ("home.intro", "Här begär du uppgifter från andra myndigheter, granskar förfrågningar till din myndighet och följer upp utbytet — allt enligt regelboken.", "Here you request information from other authorities, review requests to your authority and follow up the exchange — all according to the rulebook."),
    ("home.roles", "Dina roller", "Your roles"),
    ("role.officer", "Handläggare", "Case officer"),
    ("role.reviewer", "Jurist (granskning)", "Reviewer (legal)"),
    ("role.auditor", "Granskare (tillsyn)", "Auditor"),
    ("role.admin", "Administratör", "Administrator"),
    ("home.officer", "Sök vilken information som finns och begär uppgifter om en person eller ett företag.", "Find what information exists and request information about a person or a company."),
    ("home.reviewer", "Pröva förfrågningar som regelboken lämnat till manuell bedömning.", "Decide requests that the rulebook routed to manual assessment."),
    ("home.auditor", "Se liggarens status, verifiera den, ta fram registerutdrag och följ upp utbytet.", "See the ledger's status, verify it, produce subject-access reports and follow up the exchange."),
    ("home.admin", "Hantera nodens konton och se vilka erbjudanden den publicerar.", "Manage the node's accounts and see which offerings it publishes."),
    ("offerings.title", "Sök information", "Find information"),
    ("offerings.search", "Sök bland erbjudanden", "Search the offerings"),
    ("offerings.submit", "Sök", "Search"),
    ("offerings.provider", "Lämnas av", "Provided by"),
    ("offerings.fields", "Uppgifter", "Fields"),
    ("offerings.secrecy", "Sekretess", "Secrecy"),
    ("offerings.request", "Begär uppgifter", "Request information"),
    ("offerings.none", "Inga erbjudanden matchar sökningen.", "No offering matches the search."),
    ("offerings.search_help", "Fritext och filter, till exempel: lön provider:skatteverket provision:luffa", "Free text and filters, for example: lön provider:skatteverket provision:luffa"),
    ("offerings.bad_query", "Sökningen kan inte utföras", "The search cannot be run"),
    ("offerings.narrow", "Avgränsa", "Narrow down"),
    ("offerings.hits", "Träffar", "Results"),
    ("offerings.own", "Er egen myndighets erbjudande.", "Your own authority's offering."),
    ("offerings.concept", "Begrepp", "Concept"),
    ("offerings.provision", "Lagrum", "Provision"),
    ("offerings.purpose", "Ändamål med förhandsbedömning", "Pre-assessed purpose"),
    ("offerings.pages", "Sidor", "Pages"),
    ("offerings.previous", "Föregående sida", "Previous page"),
    ("offerings.next", "Nästa sida", "Next page"),
    ("offerings.page", "Sida", "Page"),
    ("requests.first_page", "Första sidan", "First page"),
    ("request.title", "Ny förfrågan", "New request"),
    ("request.subject", "Personnummer, samordningsnummer eller organisationsnummer", "Personal identity, coordination or organisation number"),
    ("request.subject_help", "10 eller 12 siffror, med eller utan bindestreck.", "10 or 12 digits, with or without a hyphen."),
    ("request.subject_ok", "Giltigt nummer.", "Valid number."),
    ("request.subject_bad", "Numret är inte giltigt (kontrollsiffran eller datumet stämmer inte).", "The number is not valid (the check digit or the date is wrong)."),
    ("request.basis", "Rättslig grund", "Legal basis"),
    ("request.purpose", "Ändamål", "Purpose"),
    ("request.fields", "Uppgifter som behövs", "Information needed"),
    ("request.case_ref", "Diarienummer", "Case reference"),
    ("request.operation", "Myndighetsgemensam insats (om någon)", "Joint operation (if any)"),
    ("request.submit", "Skicka förfrågan", "Send request"),
    ("request.no_options", "Regelboken ger ingen rättslig grund för din roll och enhet att begära detta erbjudande.", "The rulebook gives no legal basis for your role and unit to request this offering."),
    ("request.automatic", "automatiskt utlämnande", "automatic disclosure"),
    ("request.manual", "manuell prövning", "manual assessment"),
    ("request.mixed", "automatiskt eller efter manuell prövning, beroende på ändamål", "automatic or after manual assessment, depending on the purpose"),
    ("request.failed", "Förfrågan kunde inte skickas", "The request could not be sent"),
    ("answer.title", "Förfrågan", "Request"),
    ("answer.status", "Status", "Status"),
    ("answer.answered", "Besvarad", "Answered"),
    ("answer.review", "Väntar på granskning", "Waiting for review"),
    ("answer.in_flight", "Skickas", "Being sent"),
    ("answer.failed", "Misslyckades – inget svar", "Failed – no answer"),
    ("answer.values", "Utlämnade uppgifter", "Disclosed information"),
    ("answer.no_values", "Inga uppgifter lämnades ut.", "No information was disclosed."),
    ("answer.decision", "Beslut per uppgift", "Decision per field"),
    ("answer.field", "Uppgift", "Field"),
    ("answer.value", "Värde", "Value"),
    ("answer.outcome", "Utfall", "Outcome"),
    ("answer.citations", "Lagrum", "Provisions"),
    ("answer.receipt", "Kvitton", "Receipts"),
    ("answer.provider_receipt", "Utlämnarens logg", "Provider's ledger"),
    ("answer.own_receipt", "Vår logg", "Our ledger"),
    ("answer.entry", "post", "entry"),
    ("answer.ticket", "Ärende hos utlämnaren", "Ticket at the provider"),
    ("answer.reload", "Sidan visar läget när den laddades. Ladda om för att se om granskningen är klar.", "The page shows the state when it was loaded. Reload to see whether the review is done."),
    ("outcome.disclose", "Lämnas ut", "Disclosed"),
    ("outcome.review", "Manuell prövning", "Manual assessment"),
    ("outcome.refuse", "Lämnas inte ut", "Refused"),
    ("requests.title", "Mina förfrågningar", "My requests"),
    ("requests.when", "Skickad", "Sent"),
    ("requests.offering", "Erbjudande", "Offering"),
    ("requests.case_ref", "Diarienummer", "Case reference"),
    ("requests.status", "Status", "Status"),
    ("requests.none", "Du har inte skickat några förfrågningar ännu.", "You have not sent any requests yet."),
    ("nav.messages", "Meddelanden", "Messages"),
    ("nav.subscriptions", "Prenumerationer", "Subscriptions"),
    ("subscriptions.title", "Prenumerationer", "Subscriptions"),
    ("subscriptions.none", "Enheten har inga prenumerationer.", "The unit has no subscriptions."),
    ("subscriptions.provider", "Hos", "Provider"),
    ("subscriptions.events", "Händelser", "Event types"),
    ("subscriptions.subjects", "Omfattar", "Subjects"),
    ("subscriptions.ends", "Gäller till", "Ends"),
    ("subscriptions.subscriber", "Prenumerant", "Subscriber"),
    ("subscriptions.notices", "Underrättelser om ändringar", "Notices of changes"),
    ("subscriptions.notices_hint", "En underrättelse säger vem och vad som ändrats. Till vad står bara med där en förhandsbedömning tillåter det; annars hämtas uppgifterna med en vanlig förfrågan.", "A notice says who and what changed. What it changed to is shown only where a pre-assessment allows it; otherwise fetch the information with an ordinary request."),
    ("subscriptions.notices_none", "Inga underrättelser har kommit.", "No notices have arrived."),
    ("subscriptions.changed", "Ändrat", "Changed"),
    ("subscriptions.subject", "Avser", "Subject"),
    ("subscriptions.fields", "Ändrade uppgifter", "Fields changed"),
    ("subscriptions.newer", "Nyare underrättelser", "Newer notices"),
    ("subscriptions.status.active", "Aktiv", "Active"),
    ("subscriptions.status.ended", "Har upphört", "Ended"),
    ("subscriptions.status.cancelled", "Avbruten", "Cancelled"),
    ("subscriptions.status.refused", "Avslagen", "Refused"),
    ("messages.title", "Meddelanden", "Messages"),
    ("messages.one", "Meddelande", "Message"),
    ("messages.unit", "Enhet:", "Unit:"),
    ("messages.inbox", "Inkorg", "Inbox"),
    ("messages.outbox", "Utkorg", "Outbox"),
    ("messages.inbox_empty", "Inga meddelanden har kommit till enheten.", "No messages have arrived for the unit."),
    ("messages.outbox_empty", "Enheten har inte skickat några meddelanden.", "The unit has not sent any messages."),
    ("messages.received", "Mottaget", "Received"),
    ("messages.sent", "Skickat", "Sent"),
    ("messages.from", "Från", "From"),
    ("messages.to", "Till", "To"),
    ("messages.kind", "Slag", "Kind"),
    ("messages.notice", "Underrättelse", "Notice"),
    ("messages.letter", "Brev", "Letter"),
    ("messages.text", "Meddelande", "Message"),
    ("messages.accept", "Ta emot meddelandet", "Accept the message"),
    ("messages.back", "Tillbaka till meddelandena", "Back to the messages"),
    ("messages.state.refused", "Stoppad av regelboken", "Refused by the rulebook"),
    ("messages.state.held", "Väntar på jurist", "Awaiting a lawyer"),
    ("messages.state.pending", "Skickas", "Being delivered"),
    ("messages.state.delivered", "Levererat", "Delivered"),
    ("messages.state.accepted", "Mottaget av enhet", "Accepted by a unit"),
    ("messages.state.failed", "Kunde inte levereras", "Could not be delivered"),
    ("messages.files", "Bifogade filer", "Attached files"),
    ("compose.title", "Nytt meddelande", "New message"),
    ("compose.nobody", "Ingen myndighet i federationen tar emot meddelanden just nu.", "No authority of the federation takes messages just now."),
    ("compose.whole", "hela myndigheten", "the whole authority"),
    ("compose.subject", "Rubrik", "Subject"),
    ("compose.files", "Bifogade filer", "Attached files"),
    ("compose.choose", "Välj filer att bifoga", "Choose files to attach"),
    ("compose.files_need_script", "Att bifoga filer kräver JavaScript. Brevet kan skickas utan filer.", "Attaching files needs JavaScript. The letter can be sent without files."),
    ("compose.kept", "Redan uppladdade filer som följer med:", "Files already uploaded that go with it:"),
    ("compose.uploading", "Laddar upp filerna …", "Uploading the files …"),
    ("compose.uploaded", "Filerna är uppladdade. Meddelandet skickas.", "The files are uploaded. The message is being sent."),
    ("compose.upload_failed", "Filerna kunde inte laddas upp:", "The files could not be uploaded:"),
    ("compose.send", "Skicka meddelandet", "Send the message"),
    ("compose.failed", "Meddelandet skickades inte", "The message was not sent"),
    ("review.title", "Granskning", "Review"),
    ("review.pending", "Väntar på beslut", "Waiting for a decision"),
    ("review.decided_list", "Beslutade", "Decided"),
    ("review.none", "Inga förfrågningar väntar på granskning.", "No requests are waiting for review."),
    ("review.received", "Mottagen", "Received"),
    ("review.requester", "Begärs av", "Requested by"),
    ("review.offering", "Erbjudande", "Offering"),
    ("review.purpose", "Ändamål", "Purpose"),
    ("review.basis", "Åberopad grund", "Basis claimed"),
    ("review.case_ref", "Mottagarens diarienummer", "Recipient's case reference"),
    ("review.subject", "Avser", "Subject"),
    ("review.protected", "Skyddade personuppgifter", "Protected identity"),
    ("review.support", "Beslutsstöd", "Decision support"),
    ("review.candidates", "Möjliga lagrum och vad som ska vägas", "Candidate provisions and what must be weighed"),
    ("review.weigh", "Att väga", "To weigh"),
    ("review.earlier", "Tidigare utbyten om samma person", "Earlier exchanges about the same subject"),
    ("review.no_earlier", "Inga tidigare utbyten.", "No earlier exchanges."),
    ("review.decide", "Beslut", "Decision"),
    ("review.disclose", "Lämna ut", "Disclose"),
    ("review.refuse", "Lämna inte ut", "Refuse"),
    ("review.reason", "Skäl (obligatoriskt)", "Reason (mandatory)"),
    ("review.submit", "Fatta beslut", "Decide"),
    ("review.decided", "Beslutad", "Decided"),
    ("review.by", "av", "by"),
    ("review.missing", "Välj utfall och skriv skäl för varje uppgift.", "Choose an outcome and write a reason for every field."),
    ("audit.title", "Tillsyn", "Audit"),
    ("audit.ledger", "Liggaren", "The ledger"),
    ("audit.origin", "Logg", "Log"),
    ("audit.size", "Antal poster", "Entries"),
    ("audit.root", "Rothash", "Root hash"),
    ("audit.checkpoint", "Senaste kontrollpunkt", "Latest checkpoint"),
    ("audit.witnesses", "Vittnessignaturer", "Witness cosignatures"),
    ("audit.no_witnesses", "Inga vittnen har kontrasignerat ännu.", "No witness has cosigned yet."),
    ("audit.verify", "Verifiera liggaren", "Verify the ledger"),
    ("audit.verified", "Verifierad", "Verified"),
    ("audit.not_verified", "Verifieringen misslyckades", "Verification failed"),
    ("audit.subject", "Registerutdrag", "Subject-access report"),
    ("audit.subject_submit", "Ta fram registerutdrag", "Produce the report"),
    ("audit.report_more", "Visa följande poster", "Show the following entries"),
    ("audit.report_none", "Liggaren innehåller inga poster om detta nummer.", "The ledger holds no entries about this number."),
    ("audit.followup", "Uppföljning", "Follow-up"),
    ("audit.notices", "Underrättelser om ändringar", "Notices of changes"),
    ("audit.notices_none", "Inga underrättelser har lämnats eller tagits emot.", "No notices have been sent or received."),
    ("audit.notices_sent", "Lämnade", "Sent"),
    ("audit.notices_withheld", "Hölls tillbaka", "Withheld"),
    ("audit.notices_received", "Mottagna", "Received"),
    ("audit.granted", "Beviljade prenumerationer", "Subscriptions granted"),
    ("audit.granted_why", "Ändamål och rättslig grund", "Purpose and legal basis"),
    ("audit.granted_none", "Myndigheten har inte beviljat någon prenumeration.", "This authority has granted no subscription."),
    ("audit.by_day", "Utbyten per dag och utfall", "Exchanges per day by outcome"),
    ("audit.by_offering", "Poster per erbjudande", "Entries per offering"),
    ("audit.by_provision", "Poster per lagrum", "Entries per provision"),
    ("audit.turnaround", "Handläggningstid för granskning", "Review turnaround"),
    ("audit.turnaround_none", "Ingen granskning har avgjorts ännu.", "No review has been decided yet."),
    ("audit.entry", "Post", "Entry"),
    ("audit.time", "Tid", "Time"),
    ("audit.event", "Händelse", "Event"),
    ("audit.actor", "Mottagare eller beslutsfattare", "Recipient or decision maker"),
    ("audit.fields", "Utlämnat", "Disclosed"),
    ("audit.proof", "Inklusionsbevis", "Inclusion proof"),
    ("audit.table", "Tabell", "Table"),
    ("audit.reconciliation", "Avstämning mot utlämnarnas loggar", "Reconciliation with the providers' ledgers"),
    ("audit.reconciliation_intro", "Varje svar som en annan myndighet har loggat som lämnat till oss ska finnas som mottaget i vår logg, eller vara loggat hos båda som aldrig framkommet.", "Every answer another authority logged as given to us must be logged as received in our ledger, or logged by both as never delivered."),
    ("audit.peer", "Utlämnare", "Provider"),
    ("audit.peer_state", "Läge", "State"),
    ("audit.reconciled", "Avstämd", "Reconciled"),
    ("audit.reconciliation_pending", "Pågår", "Pending"),
    ("audit.unreconciled", "Avvikelse", "Discrepancy"),
    ("audit.settled", "Avstämt till post", "Settled up to entry"),
    ("audit.matched", "Mottagna", "Received"),
    ("audit.undelivered", "Aldrig framkomna", "Never delivered"),
    ("audit.open", "Öppna", "Open"),
    ("audit.checked", "Senast avstämd", "Last reconciled"),
    ("audit.never", "Aldrig", "Never"),
    ("audit.reconcile_now", "Stäm av nu", "Reconcile now"),
    ("audit.findings", "Avvikelser", "Discrepancies"),
    ("audit.findings_first", "de första", "the first"),
    ("audit.digest_mismatch", "Kvittot stämmer inte med utlämnarens post", "The receipt does not match the provider's entry"),
    ("audit.unknown_entry", "Kvitto för en post som utlämnaren inte loggat till oss", "A receipt for an entry the provider did not log for us"),
    ("users.title", "Konton", "Accounts"),
    ("users.username", "Användarnamn", "Username"),
    ("users.name", "Namn", "Name"),
    ("users.unit", "Enhet", "Unit"),
    ("users.officer_role", "Roll i regelboken", "Role in the rulebook"),
    ("users.roles", "Roller i portalen", "Portal roles"),
    ("users.state", "Läge", "State"),
    ("users.active", "Aktivt", "Active"),
    ("users.locked", "Låst", "Locked"),
    ("users.disabled", "Avstängt", "Disabled"),
    ("users.create", "Nytt konto", "New account"),
    ("users.password", "Lösenord (minst 12 tecken)", "Password (at least 12 characters)"),
    ("users.submit", "Skapa konto", "Create account"),
    ("users.edit", "Ändra", "Edit"),
    ("users.save", "Spara", "Save"),
    ("users.unlock", "Lås upp", "Unlock"),
    ("users.disable", "Stäng av kontot", "Disable the account"),
    ("users.new_password", "Nytt lösenord", "New password"),
    ("users.set_password", "Byt lösenord", "Set password"),
    ("published.title", "Publicerade erbjudanden", "Published offerings"),
    ("published.paths", "Rättsliga grunder för utlämnande", "Legal bases for disclosure"),
    ("error.forbidden", "Åtkomst nekad", "Access denied"),
    ("error.forbidden_text", "Din roll ger inte tillgång till den här sidan.", "Your role does not give access to this page."),
    ("error.not_found", "Hittades inte", "Not found"),
    ("error.not_found_text", "Det finns inget här, eller inget som din myndighet får se.", "There is nothing here, or nothing your authority may see."),
    ("error.csrf", "Formuläret har gått ut eller kom inte från portalen. Ladda om sidan och försök igen.", "The form has expired or did not come from the portal. Reload the page and try again."),
    ("error.invalid", "Uppgifterna behöver rättas", "The form needs correcting"),
    ("error.failed", "Något gick fel", "Something went wrong"),
    ("error.back", "Till startsidan", "To the home page"),
];

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn keys_are_unique_and_every_key_a_template_uses_exists() {
        let mut seen = HashSet::new();
        for (key, sv, en) in MESSAGES {
            assert!(seen.insert(*key), "duplicate key {key}");
            assert!(!sv.is_empty() && !en.is_empty(), "empty text for {key}");
        }
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("templates");
        let mut used = 0;
        for entry in std::fs::read_dir(&dir).unwrap() {
            let text = std::fs::read_to_string(entry.unwrap().path()).unwrap();
            for piece in text.split("t.get(\"").skip(1) {
                let key = &piece[..piece.find('"').unwrap()];
                assert!(seen.contains(key), "template uses unknown key {key}");
                used += 1;
            }
        }
        assert!(used > 50, "templates use the text table");
        assert_eq!(Text(Lang::En).get("review.submit"), "Decide");
        assert_eq!(Text(Lang::Sv).get("review.submit"), "Fatta beslut");
    }
}
