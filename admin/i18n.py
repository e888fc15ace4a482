"""Romanian and English for the back office: a small catalogue and a language switch.

Flask-Babel is not a dependency; our own strings live in :data:`RO` (English is the
key). Flask-Admin's built-in strings come from :data:`FLASK_ADMIN_RO` where the
Romanian ``.mo`` catalogue Flask-Admin ships is wrong, else from that catalogue (read with
the standard library's :mod:`gettext`, cedilla letters corrected). The language is the
one chosen with the switch (kept in the session), else the staff user's, else Romanian.
"""

from __future__ import annotations

import gettext as stdlib_gettext
import os
from functools import cache
from typing import Any

from flask import has_request_context, session
from markupsafe import Markup, escape

LANGUAGES = ("ro", "en")
DEFAULT_LANGUAGE = "ro"

RO: dict[str, str] = {
    # navigation and pages
    "Dashboard": "Panou",
    "Customers": "Clienți",
    "Subscriptions": "Abonamente",
    "Invoices": "Facturi",
    "Proformas": "Proforme",
    "Credit notes": "Note de credit",
    "Credit movements": "Mișcări credit",
    "Payments": "Plăți",
    "Webhook events": "Evenimente webhook",
    "Audit events": "Evenimente audit",
    "Documents": "Documente",
    "Money": "Bani",
    "System": "Sistem",
    "e-Factura": "e-Factura",
    "BNR rates": "Cursuri BNR",
    "Staff users": "Utilizatori",
    "Log in": "Autentificare",
    "Log out": "Ieșire",
    "E-mail": "E-mail",
    "Password": "Parolă",
    "Invalid e-mail or password.": "E-mail sau parolă greșită.",
    "Please log in.": "Vă rugăm să vă autentificați.",
    "Your session expired; please log in again.": "Sesiunea a expirat; autentificați-vă din nou.",
    "You do not have the role needed for this action.": (
        "Nu aveți rolul necesar pentru această acțiune."
    ),
    "Language": "Limba",
    # dashboard
    "MRR and ARR": "MRR și ARR",
    "Revenue by month": "Venituri pe luni",
    "Receivables ageing": "Vechimea creanțelor",
    "Dunning pipeline": "Recuperare creanțe",
    "e-Factura waiting or rejected": "e-Factura în așteptare sau respinse",
    "Failed webhooks": "Webhook-uri eșuate",
    "days": "zile",
    "Month": "Luna",
    "Currency": "Moneda",
    "Amount": "Suma",
    "Count": "Număr",
    "Status": "Stare",
    "Nothing here.": "Nimic aici.",
    "past due": "restant",
    "suspended": "suspendat",
    # columns
    "Code": "Cod",
    "Name": "Nume",
    "Legal name": "Denumire",
    "Kind": "Tip",
    "Number": "Număr",
    "Customer": "Client",
    "Issue date": "Data emiterii",
    "Due date": "Scadența",
    "Total": "Total",
    "VAT": "TVA",
    "Paid": "Plătit",
    "Payment status": "Stare plată",
    "Created": "Creat",
    "Date": "Data",
    "Account": "Cont",
    "Description": "Descriere",
    "Source": "Sursa",
    "Event type": "Tip eveniment",
    "Attempts": "Încercări",
    "Last error": "Ultima eroare",
    "Received": "Primit",
    "Actor": "Actor",
    "Action": "Acțiune",
    "Object": "Obiect",
    "Occurred": "Moment",
    "Period end": "Sfârșit perioadă",
    "Period start": "Început perioadă",
    "Reason": "Motiv",
    "Role": "Rol",
    "Active": "Activ",
    # actions
    "Actions": "Acțiuni",
    "New draft invoice": "Factură nouă (ciornă)",
    "Issue": "Emite",
    "Void": "Anulează",
    "Issue credit note": "Emite notă de credit",
    "Download PDF": "Descarcă PDF",
    "Download XML": "Descarcă XML",
    "Pause": "Suspendă temporar",
    "Resume": "Reia",
    "Cancel": "Anulează abonamentul",
    "Cancel at period end": "Anulează la sfârșitul perioadei",
    "Credit the unused part": "Creditează partea nefolosită",
    "Preview": "Previzualizare",
    "Confirm": "Confirmă",
    "Replay": "Reprocesează",
    "Submit to ANAF": "Trimite la ANAF",
    "Check status": "Verifică starea",
    "Queue again": "Pune din nou în coadă",
    "Notes": "Note",
    "Add note": "Adaugă notă",
    "Item": "Articol",
    "Quantity": "Cantitate",
    "Unit price": "Preț unitar",
    "Add line": "Adaugă linie",
    "Save draft": "Salvează ciorna",
    "Gross amount (empty: the whole invoice)": "Suma cu TVA (gol: toată factura)",
    "Done.": "Gata.",
    "The action was refused": "Acțiunea a fost refuzată",
    "This form was already sent; the action was not run again.": (
        "Formularul a fost deja trimis; acțiunea nu a fost executată din nou."
    ),
    "This form was already sent with other values; open the action again to send new "
    "values.": (
        "Formularul a fost deja trimis cu alte valori; deschideți din nou acțiunea pentru "
        "a trimite valori noi."
    ),
    "Next document if nothing changes": "Următorul document dacă nimic nu se schimbă",
    "What this change issues now": "Ce emite această schimbare acum",
    "Lines": "Linii",
    "Details": "Detalii",
    "Export CSV": "Export CSV",
    "Receivable": "De încasat",
    "Credit balance": "Sold credit",
    "Note": "Mențiune",
    "Invoice type": "Tip factură",
    "Corrects invoice (number, for 384)": "Corectează factura (numărul, pentru 384)",
    "Paused": "Suspendat temporar",
    "BNR fetches": "Preluări BNR",
    "ANAF response": "Răspuns ANAF",
    "Now": "Acum",
    "Lines net": "Valoare linii",
    "Allowances": "Reduceri",
    "Taxable": "Bază impozabilă",
    "Payable": "De plată",
    "Refunded": "Rambursat",
    "Corrected invoice": "Factura corectată",
    "Subscription": "Abonament",
    "Record bank payment": "Înregistrează plată bancară",
    "Bank reference": "Referință bancară",
    "Received (YYYY-MM-DD)": "Primit la (AAAA-LL-ZZ)",
    "Apply credit": "Folosește creditul",
    "Retry payment": "Reîncearcă plata",
    # menu entries of the core's and the plugins' views
    "Refunds": "Rambursări",
    "Pricing": "Tarifare",
    "Prices": "Prețuri",
    "Price locks": "Prețuri blocate",
    "Coupons": "Cupoane",
    "Campaigns": "Campanii",
    "Redemptions": "Utilizări cupoane",
    "Usage": "Consum",
    "Meters": "Contoare",
    "Usage alerts": "Alerte de consum",
    "Stripe refusals": "Refuzuri Stripe",
    "HTTP status": "Cod HTTP",
    "Stripe error": "Eroare Stripe",
    "Provisioning": "Provizionare",
    "Provisioning actions": "Acțiuni de provizionare",
    "Hosting accounts": "Conturi de găzduire",
    "Reconciliation": "Reconciliere",
    "Provisioning failed": "Provizionări eșuate",
    # column labels Flask-Admin derives from field names ("issue_date" -> "Issue Date")
    "Activated At": "Activat la",
    "Actor Type": "Tip actor",
    "Actual": "Real",
    "Aggregation": "Agregare",
    "Alert Id": "ID alertă",
    "Amounts": "Sume",
    "Anaf Errors": "Erori ANAF",
    "Anchor Day": "Ziua de facturare",
    "Approved By": "Aprobat de",
    "Attributes": "Atribute",
    "Bank Reference": "Referință bancară",
    "Billing Cycle Months": "Ciclu de facturare (luni)",
    "Budget": "Buget",
    "Bulk Key": "Cheie operațiune în masă",
    "Cancel At Period End": "Anulare la sfârșitul perioadei",
    "Cancellation Reason": "Motivul anulării",
    "Cancelled At": "Anulat la",
    "Category": "Categorie",
    "Cause": "Cauză",
    "City": "Localitate",
    "Cnp": "CNP",
    "Completed At": "Finalizat la",
    "Confirmed State": "Stare confirmată",
    "Countries": "Țări",
    "Country": "Țara",
    "County": "Județ",
    "Coupon Id": "ID cupon",
    "Created At": "Creat la",
    "Created By": "Creat de",
    "Cui": "CUI",
    "Customer Id": "ID client",
    "Customer Note": "Notă pentru client",
    "Customer Tag": "Etichetă client",
    "Customer Type": "Tip client",
    "Cycles Used": "Cicluri folosite",
    "Data": "Date",
    "Deadline": "Termen",
    "Destination": "Destinație",
    "Discount total": "Total reducere",
    "Discount Type": "Tip reducere",
    "Document Number": "Număr document",
    "Domain": "Domeniu",
    "Download Id": "ID descărcare",
    "Due Date": "Scadența",
    "Duration": "Durată",
    "Duration Cycles": "Durată (cicluri)",
    "Email": "E-mail",
    "Ended At": "Încheiat la",
    "Ends On": "Se încheie la",
    "Entry.Idempotency Key": "Cheie de idempotență",
    "Entry.Posted At": "Înregistrat la",
    "Environment": "Mediu",
    "Error": "Eroare",
    "Error Code": "Cod eroare",
    "Event Id": "ID eveniment",
    "Exchange Rate": "Curs de schimb",
    "Expected": "Așteptat",
    "Expected State": "Stare așteptată",
    "Expires On": "Expiră la",
    "Expiry Notice Sent At": "Notificare de expirare trimisă la",
    "Expiry Recorded At": "Expirare înregistrată la",
    "Fee": "Comision",
    "Fetched At": "Preluat la",
    "Fired At": "Declanșat la",
    "First Rate Date": "Data primului curs",
    "First Seen At": "Văzut prima dată la",
    "Free Months": "Luni gratuite",
    "Gateway Id": "Procesator plăți",
    "Gateway Note": "Notă procesator",
    "Gateway Reference": "Referință procesator",
    "Gateway Status": "Stare la procesator",
    "Granted By": "Acordat de",
    "Id": "ID",
    "Idempotency Key": "Cheie de idempotență",
    "Internal Note": "Notă internă",
    "Interval Months": "Interval (luni)",
    "Invoice Id": "ID factură",
    "Invoice Mode": "Mod de facturare",
    "Issue Date": "Data emiterii",
    "Issued At": "Emis la",
    "Issued By": "Emis de",
    "Key": "Cheie",
    "Last Error": "Ultima eroare",
    "Last Login At": "Ultima autentificare",
    "Last Rate Date": "Data ultimului curs",
    "Last Seen At": "Văzut ultima dată la",
    "Locked At": "Blocat la",
    "Locked price": "Preț blocat",
    "Max Per Customer": "Maxim per client",
    "Max Redemptions": "Utilizări maxime",
    "Meter Id": "ID contor",
    "Min Order": "Comandă minimă",
    "Months Used": "Luni folosite",
    "Multiplier": "Multiplicator",
    "Name En": "Nume (engleză)",
    "New Customers Only": "Doar clienți noi",
    "Next Attempt At": "Următoarea încercare la",
    "Next Billing Date": "Următoarea facturare",
    "Next Poll At": "Următoarea interogare la",
    "Nickname": "Denumire scurtă",
    "Object Type": "Tip obiect",
    "Ok": "Reușit",
    "Params": "Parametri",
    "Paused At": "Suspendat temporar la",
    "Payload": "Conținut",
    "Payment": "Plată",
    "Payment Terms Days": "Termen de plată (zile)",
    "Percent": "Procent",
    "Period End": "Sfârșit perioadă",
    "Period Start": "Început perioadă",
    "Phone": "Telefon",
    "Poll Count": "Număr de interogări",
    "Postal Code": "Cod poștal",
    "Prev Hash": "Hash anterior",
    "Price": "Preț",
    "Price Ids": "ID-uri prețuri",
    "Processed At": "Procesat la",
    "Product": "Produs",
    "Product Id": "ID produs",
    "Product Ids": "ID-uri produse",
    "Property": "Proprietate",
    "Published Value": "Valoare publicată",
    "Publishing Date": "Data publicării",
    "Rate": "Curs",
    "Rate Date": "Data cursului",
    "Rated At": "Tarifat la",
    "Refused At": "Refuzat la",
    "Identifier": "Identificator",
    "Message": "Mesaj",
    "Rates Added": "Cursuri adăugate",
    "Rates Seen": "Cursuri găsite",
    "Recorded By": "Înregistrat de",
    "Redeemed At": "Folosit la",
    "Redeemed By": "Folosit de",
    "Reference": "Referință",
    "Requested": "Solicitat",
    "Requested By": "Solicitat de",
    "Resolved At": "Rezolvat la",
    "Response Sha256": "SHA-256 răspuns",
    "Revision": "Revizie",
    "Revoked At": "Revocat la",
    "Revoked By": "Revocat de",
    "Rounding": "Rotunjire",
    "Rounding Increment": "Pas de rotunjire",
    "Seq": "Nr. ordine",
    "Spent": "Cheltuit",
    "Split": "Împărțire",
    "Start Date": "Data începerii",
    "Started At": "Început la",
    "Starts On": "Începe la",
    "State": "Stare",
    "Street": "Strada",
    "Stripe Event Name": "Eveniment Stripe",
    "Subscription Id": "ID abonament",
    "Suspended At": "Suspendat la",
    "Suspension Reason": "Motivul suspendării",
    "Tags": "Etichete",
    "Tax Point Date": "Data exigibilității TVA",
    "Template": "Șablon",
    "Threshold": "Prag",
    "Times Redeemed": "Utilizări",
    "Total amount": "Suma totală",
    "Trade Register": "Nr. Registrul Comerțului",
    "Trial End": "Sfârșitul perioadei de probă",
    "Unit": "Unitate",
    "Unit Code": "Cod unitate",
    "Updated At": "Actualizat la",
    "Upload Index": "Index încărcare",
    "Uploaded At": "Încărcat la",
    "Url": "URL",
    "Username": "Utilizator",
    "Valid From": "Valabil de la",
    "Valid Until": "Valabil până la",
    "Vat Id": "Cod TVA",
    "Vat Payer": "Plătitor de TVA",
    "Void Reason": "Motivul anulării",
    "Voided At": "Anulat la",
    "Xml Sha256": "SHA-256 XML",
    # actions of the core's and the plugins' views, their fields and choices
    "380 commercial invoice": "380 factură comercială",
    "384 corrected invoice": "384 factură corectată",
    "389 self-billed invoice": "389 autofactură",
    "751 invoice information for accounting purposes": (
        "751 factură – informații în scopuri contabile"
    ),
    "Amount (empty: all that remains)": "Suma (gol: tot ce a rămas)",
    "Approve and send": "Aprobă și trimite",
    "Customer code": "Cod client",
    "Expires on (YYYY-MM-DD, empty: 12 months)": "Expiră la (AAAA-LL-ZZ, gol: 12 luni)",
    "Expires on (YYYY-MM-DD, empty: never)": "Expiră la (AAAA-LL-ZZ, gol: niciodată)",
    "Grant a price lock": "Blochează prețul",
    "Internal note": "Notă internă",
    "Keep every current subscriber at today's price": (
        "Păstrează prețul de azi pentru toți abonații actuali"
    ),
    "Locked unit price": "Preț unitar blocat",
    "Note for the customer": "Notă pentru client",
    "Only this subscription (id, optional)": "Doar acest abonament (ID, opțional)",
    "Reason (shown in the history)": "Motiv (apare în istoric)",
    "Record bank payout": "Înregistrează rambursarea prin bancă",
    "Refund": "Rambursează",
    "Refund to": "Rambursează către",
    "Reject": "Respinge",
    "Retry now": "Reîncearcă acum",
    "Revoke": "Revocă",
    "Start review": "Începe verificarea",
    "back the way it came (card, PayPal, bank)": "pe aceeași cale (card, PayPal, bancă)",
    "customer request": "cererea clientului",
    "dispute": "dispută",
    "duplicate": "plată dublă",
    "error correction": "corectarea unei erori",
    "fraud": "fraudă",
    "other": "alt motiv",
    "service failure": "serviciu nefuncțional",
    "to the customer's credit": "în creditul clientului",
}

# Flask-Admin's own template strings where the Romanian catalogue it ships is wrong:
# machine translations ("Un fel de" means "a kind of", for "Sort by"; "masă" is a dining
# table), half-English ("Vezi Record"), missing diacritics ("Adauga"). Looked up before
# that catalogue. Kept apart from :data:`RO` because the same English can mean another
# thing in our own strings ("Cancel" is our subscription action).
FLASK_ADMIN_RO: dict[str, str] = {
    "Add": "Adaugă",
    "Add Filter": "Adaugă filtru",
    "Apply": "Aplică",
    "Cancel": "Renunță",
    "Create": "Creează",
    "Create Directory": "Creează dosar",
    "Create New Record": "Creează o înregistrare nouă",
    "Delete?": "Ștergeți?",
    "Edit Record": "Editați înregistrarea",
    "Please select at least one file.": "Selectați cel puțin un fișier.",
    "Please select at least one record.": "Selectați cel puțin o înregistrare.",
    "Rename File": "Redenumiți fișierul",
    "Reset Filters": "Resetați filtrele",
    "Save": "Salvați",
    "Select all records": "Selectați toate înregistrările",
    "Select record": "Selectați înregistrarea",
    "Sort by %(name)s": "Sortează după %(name)s",
    "There are no items in the table.": "Nu există înregistrări în tabel.",
    "Upload File": "Încărcați fișierul",
    "View Record": "Vezi înregistrarea",
    "With selected": "Cu cele selectate",
    # After the page size ("50 items"); the sizes offered are 20, 50 and 100, and from 20
    # on Romanian puts "de" between the number and the noun.
    "items": "de înregistrări",
}

# Plural strings: Romanian forms for 1, for 0 and 2-19 (and 101-119, ...), for the rest.
FLASK_ADMIN_RO_PLURALS: dict[str, tuple[str, str, str]] = {
    "%(num)s item": ("%(num)s înregistrare", "%(num)s înregistrări", "%(num)s de înregistrări"),
}

# The catalogue writes ş ţ with a cedilla; Romanian uses the comma below (ș ț).
_COMMA_BELOW = str.maketrans("şţŞŢ", "șțȘȚ")


def current_language() -> str:
    """The interface language of this request (``ro`` or ``en``)."""
    if has_request_context():
        chosen = session.get("lang")
        if chosen in LANGUAGES:
            return str(chosen)
    return DEFAULT_LANGUAGE


def gettext(text: str, **variables: Any) -> str:
    """``text`` in the current language (English is the key); ``%(name)s`` placeholders."""
    # Outside a request (labels built at start-up) the English key is kept.
    ro = has_request_context() and current_language() == "ro"
    translated = RO.get(text, text) if ro else text
    return translated % variables if variables else translated


class LazyText:
    """A label translated when rendered (menu names and column labels are built once)."""

    def __init__(self, text: str) -> None:
        self.text = text

    def __str__(self) -> str:
        return gettext(self.text)

    def __html__(self) -> Markup:
        return escape(str(self))

    def __repr__(self) -> str:
        return f"LazyText({self.text!r})"

    def __eq__(self, other: object) -> bool:
        return str(self) == str(other)

    def __hash__(self) -> int:
        return hash(self.text)

    def __add__(self, other: str) -> str:
        return str(self) + other

    def __radd__(self, other: str) -> str:
        return other + str(self)

    def __len__(self) -> int:
        return len(str(self))

    def lower(self) -> str:
        """Lower-case text (Flask-Admin derives ids from some labels)."""
        return str(self).lower()

    def replace(self, old: str, new: str) -> str:
        """Like :meth:`str.replace` on the translated text."""
        return str(self).replace(old, new)

    def capitalize(self) -> str:
        """Like :meth:`str.capitalize` on the translated text."""
        return str(self).capitalize()


lazy = LazyText


@cache
def _flask_admin_catalogue(language: str) -> stdlib_gettext.NullTranslations:
    import flask_admin.translations

    folder = os.path.dirname(flask_admin.translations.__file__)
    return stdlib_gettext.translation("admin", folder, languages=[language], fallback=True)


def romanian_plural_form(num: int) -> int:
    """Which of the three Romanian plural forms a count takes (0: one, 1: few, 2: "de")."""
    if num == 1:
        return 0
    if num == 0 or 0 < num % 100 < 20:
        return 1
    return 2


def flask_admin_gettext(text: str, **variables: Any) -> str:
    """Flask-Admin's own template strings in the current language.

    Romanian: :data:`FLASK_ADMIN_RO` first, then the catalogue Flask-Admin ships, with its
    cedilla letters turned into the comma-below ones.
    """
    translated = text
    if current_language() == "ro":
        translated = FLASK_ADMIN_RO.get(text) or _flask_admin_catalogue("ro").gettext(text)
        translated = translated.translate(_COMMA_BELOW)
    return translated % variables if variables else translated


def flask_admin_ngettext(singular: str, plural: str, num: int, **variables: Any) -> str:
    """Plural form of :func:`flask_admin_gettext`."""
    variables.setdefault("num", num)
    # The page-size menu formats the count into the message ids ('{} items'.format(20)),
    # which no catalogue can hold: put the placeholder back so one entry serves all sizes.
    counted = f"{num} "
    if singular.startswith(counted) and plural.startswith(counted):
        singular = "%(num)s " + singular.removeprefix(counted)
        plural = "%(num)s " + plural.removeprefix(counted)
    if current_language() == "ro":
        forms = FLASK_ADMIN_RO_PLURALS.get(singular)
        if forms is not None:
            text = forms[romanian_plural_form(num)]
        else:
            text = _flask_admin_catalogue("ro").ngettext(singular, plural, num)
        text = text.translate(_COMMA_BELOW)
    else:
        text = singular if num == 1 else plural
    return text % variables
