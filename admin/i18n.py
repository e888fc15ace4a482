"""Romanian and English for the back office: a small catalogue and a language switch.

Flask-Babel is not a dependency; our own strings live in :data:`RO` (English is the
key), and Flask-Admin's built-in strings come from the ``.mo`` catalogues it ships,
read with the standard library's :mod:`gettext`. The language is the one chosen with
the switch (kept in the session), else the staff user's, else Romanian.
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
}


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


def flask_admin_gettext(text: str, **variables: Any) -> str:
    """Flask-Admin's own template strings in the current language (its shipped catalogue)."""
    translated = text
    if current_language() == "ro":
        translated = _flask_admin_catalogue("ro").gettext(text)
    return translated % variables if variables else translated


def flask_admin_ngettext(singular: str, plural: str, num: int, **variables: Any) -> str:
    """Plural form of :func:`flask_admin_gettext`."""
    variables.setdefault("num", num)
    if current_language() == "ro":
        text = _flask_admin_catalogue("ro").ngettext(singular, plural, num)
    else:
        text = singular if num == 1 else plural
    return text % variables
