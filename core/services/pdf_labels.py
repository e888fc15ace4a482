"""The words printed on PDF documents, in Romanian and English.

Kept apart from :mod:`praho.core.services.pdf` so translators work on one table and
the renderer stays about layout. Romanian text uses comma-below ș/ț (U+0219/U+021B),
never the cedilla forms ş/ţ, as the Romanian standard SR 13011 requires.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal

SUPPORTED_LANGUAGES = ("ro", "en")

LABELS: dict[str, dict[str, str]] = {
    "ro": {
        "title_invoice": "FACTURĂ",
        "title_proforma": "FACTURĂ PROFORMĂ",
        "title_credit_note": "FACTURĂ DE STORNARE",
        "watermark_draft": "CIORNĂ",
        "watermark_void": "ANULATĂ",
        "draft_number": "ciornă, fără număr",
        "number": "Seria și nr.",
        "issue_date": "Data emiterii",
        "tax_point": "Data exigibilității TVA",
        "due_date": "Data scadenței",
        "currency": "Moneda",
        "period": "Perioada facturată",
        "seller": "Furnizor",
        "buyer": "Cumpărător",
        "tax_id_vat": "CIF",
        "tax_id": "CIF",
        "vat_id_foreign": "Cod TVA",
        "cnp": "CNP",
        "trade_register": "Nr. Reg. Com.",
        "share_capital": "Capital social",
        "address": "Sediul",
        "iban": "IBAN",
        "bank": "Banca",
        "email": "E-mail",
        "phone": "Telefon",
        "col_position": "Nr. crt.",
        "col_item": "Denumirea produselor sau a serviciilor",
        "col_unit": "U.M.",
        "col_quantity": "Cant.",
        "col_unit_price": "Preț unitar (fără TVA)",
        "col_net": "Valoare (fără TVA)",
        "col_vat_rate": "Cota TVA",
        "line_allowance": "Reducere",
        "line_gross": "valoare brută",
        "allowances": "Reduceri și majorări la nivel de document",
        "allowance": "Reducere",
        "charge": "Majorare",
        "col_kind": "Tip",
        "col_reason": "Motiv",
        "vat_breakdown": "Defalcarea TVA pe cote",
        "col_category": "Categorie TVA",
        "col_rate": "Cota",
        "col_taxable": "Bază impozabilă",
        "col_vat": "Valoare TVA",
        "col_vat_ron": "TVA în lei",
        "lines_net": "Total valoare linii",
        "allowance_total": "Reduceri",
        "charge_total": "Majorări",
        "taxable": "Total fără TVA",
        "vat": "Total TVA",
        "total": "Total",
        "total_invoice": "Total factură",
        "total_proforma": "Total proformă",
        "total_credit_note": "Total stornat",
        "prepaid": "Avans încasat",
        "payable": "Total de plată",
        "vat_ron": "TVA în lei (RON)",
        "paid": "Încasat",
        "credited": "Stornat",
        "balance_due": "Rest de plată",
        "payment_status": "Stare plată",
        "exchange_rate_bnr": "Curs BNR",
        "exchange_rate_other": "Curs de schimb",
        "exchange_rate_date": "din data de",
        "exchange_rate_pending": "Cursul BNR se stabilește la emiterea documentului.",
        "mentions": "Mențiuni",
        "exemption_legal": "Temei",
        "credit_reference": "Stornează factura {number} din data de {date}.",
        "credit_reason": "Motivul stornării",
        "conversion": ("Factură emisă pe baza facturii proforme {proforma} "
                       "(total proformă {proforma_total}, total factură {invoice_total}, "
                       "diferență {difference})."),
        "conversion_same": "Tratamentul TVA este același ca pe proformă.",
        "conversion_rerated": ("TVA recalculată la data exigibilității facturii ({tax_point}): "
                               "{before} pe proforma din {proforma_date}, {after} pe factură."),
        # A proforma may be converted without a payment (staff decision): the status row
        # says whether it was paid.
        "converted_to": "Proforma a fost facturată prin factura {number}.",
        "converted_paid": "Încasată, facturată prin factura {number}",
        "converted_due": "Facturată prin factura {number}; plata se face pe factură",
        "converted_settled": "Facturată prin factura {number}",
        "proforma_notice": ("Factura proformă nu este document fiscal. Factura fiscală se emite "
                            "la încasarea sumei."),
        "void_notice": "Document anulat la {date}: {reason}",
        "draft_notice": "Ciornă: documentul nu a fost emis și nu are valoare fiscală.",
        "no_signature": ("Factura este valabilă fără semnătură și ștampilă, conform "
                         "art. 319 alin. (29) din Legea nr. 227/2015 privind Codul fiscal."),
        "payment_reference": "Vă rugăm să menționați numărul documentului la plată.",
        "page": "Pagina",
        "of": "din",
        "reverse_charge": "Taxare inversă",
    },
    "en": {
        "title_invoice": "INVOICE",
        "title_proforma": "PROFORMA INVOICE",
        "title_credit_note": "CREDIT NOTE",
        "watermark_draft": "DRAFT",
        "watermark_void": "VOID",
        "draft_number": "draft, not numbered",
        "number": "Series and number",
        "issue_date": "Issue date",
        "tax_point": "Tax point date",
        "due_date": "Due date",
        "currency": "Currency",
        "period": "Billing period",
        "seller": "Supplier",
        "buyer": "Customer",
        "tax_id_vat": "VAT ID",
        "tax_id": "Tax ID (CUI)",
        "vat_id_foreign": "VAT ID",
        "cnp": "Personal ID (CNP)",
        "trade_register": "Trade Reg. No.",
        "share_capital": "Share capital",
        "address": "Address",
        "iban": "IBAN",
        "bank": "Bank",
        "email": "E-mail",
        "phone": "Phone",
        "col_position": "No.",
        "col_item": "Goods or services",
        "col_unit": "Unit",
        "col_quantity": "Qty",
        "col_unit_price": "Unit price (excl. VAT)",
        "col_net": "Amount (excl. VAT)",
        "col_vat_rate": "VAT rate",
        "line_allowance": "Discount",
        "line_gross": "gross amount",
        "allowances": "Document allowances and charges",
        "allowance": "Allowance",
        "charge": "Charge",
        "col_kind": "Type",
        "col_reason": "Reason",
        "vat_breakdown": "VAT breakdown",
        "col_category": "VAT category",
        "col_rate": "Rate",
        "col_taxable": "Taxable amount",
        "col_vat": "VAT amount",
        "col_vat_ron": "VAT in RON",
        "lines_net": "Sum of line amounts",
        "allowance_total": "Allowances",
        "charge_total": "Charges",
        "taxable": "Total excl. VAT",
        "vat": "Total VAT",
        "total": "Total",
        "total_invoice": "Invoice total",
        "total_proforma": "Proforma total",
        "total_credit_note": "Total credited",
        "prepaid": "Paid in advance",
        "payable": "Amount payable",
        "vat_ron": "VAT in RON",
        "paid": "Paid",
        "credited": "Credited",
        "balance_due": "Amount due",
        "payment_status": "Payment status",
        "exchange_rate_bnr": "BNR exchange rate",
        "exchange_rate_other": "Exchange rate",
        "exchange_rate_date": "of",
        "exchange_rate_pending": "The BNR exchange rate is fixed when the document is issued.",
        "mentions": "Notes",
        "exemption_legal": "Legal basis",
        "credit_reference": "Credits invoice {number} of {date}.",
        "credit_reason": "Reason",
        "conversion": ("Invoice issued for proforma {proforma} (proforma total {proforma_total}, "
                       "invoice total {invoice_total}, difference {difference})."),
        "conversion_same": "The VAT treatment is the same as on the proforma.",
        "conversion_rerated": ("VAT re-rated at the invoice tax point ({tax_point}): {before} "
                               "on the proforma of {proforma_date}, {after} on this invoice."),
        "converted_to": "This proforma was invoiced as invoice {number}.",
        "converted_paid": "Paid, invoiced as invoice {number}",
        "converted_due": "Invoiced as invoice {number}; please pay that invoice",
        "converted_settled": "Invoiced as invoice {number}",
        "proforma_notice": ("A proforma invoice is not a tax document. The VAT invoice is issued "
                            "when payment is received."),
        "void_notice": "Document voided on {date}: {reason}",
        "draft_notice": "Draft: this document has not been issued and has no fiscal value.",
        "no_signature": ("Valid without signature or stamp under art. 319(29) of the Romanian "
                         "Fiscal Code (Law 227/2015)."),
        "payment_reference": "Please quote the document number with your payment.",
        "page": "Page",
        "of": "of",
        "reverse_charge": "Reverse charge",
    },
}

# EN 16931 VAT categories (UNCL 5305) as a reader of the document understands them.
VAT_CATEGORY_LABELS: dict[str, dict[str, str]] = {
    "ro": {
        "S": "Taxabilă", "Z": "Cota zero", "E": "Scutită", "AE": "Taxare inversă",
        "K": "Livrare intracomunitară scutită", "G": "Export scutit",
        "O": "Neimpozabilă în România", "L": "IGIC (Canare)", "M": "IPSI (Ceuta și Melilla)",
    },
    "en": {
        "S": "Standard rated", "Z": "Zero rated", "E": "Exempt", "AE": "Reverse charge",
        "K": "Intra-community supply, exempt", "G": "Export, exempt",
        "O": "Outside the scope of VAT", "L": "IGIC (Canary Islands)",
        "M": "IPSI (Ceuta and Melilla)",
    },
}

# The mention the Fiscal Code (art. 319 alin. (20)) wants for each category without VAT.
VAT_CATEGORY_MENTIONS: dict[str, dict[str, str]] = {
    "ro": {
        "AE": "Taxare inversă",
        "E": "Scutit de TVA",
        "K": "Scutit de TVA: livrare intracomunitară",
        "G": "Scutit de TVA: export",
        "O": "Operațiune neimpozabilă în România",
        "Z": "Cota zero de TVA",
    },
    "en": {
        "AE": "Reverse charge",
        "E": "Exempt from VAT",
        "K": "VAT exempt intra-community supply",
        "G": "VAT exempt export",
        "O": "Not subject to VAT in Romania",
        "Z": "Zero-rated",
    },
}

PAYMENT_STATUS_LABELS: dict[str, dict[str, str]] = {
    "ro": {"unpaid": "Neîncasată", "partially_paid": "Încasată parțial", "paid": "Încasată",
           "overpaid": "Încasată în plus", "credited": "Stornată"},
    "en": {"unpaid": "Unpaid", "partially_paid": "Partially paid", "paid": "Paid",
           "overpaid": "Overpaid", "credited": "Credited"},
}

# UN/ECE Recommendation 20 unit codes a hosting company uses.
UNIT_LABELS: dict[str, dict[str, str]] = {
    "ro": {"C62": "buc.", "H87": "buc.", "EA": "buc.", "MON": "lună", "ANN": "an", "DAY": "zi",
           "HUR": "oră", "MIN": "min.", "WEE": "săpt.", "E34": "GB", "E35": "TB", "4L": "MB",
           "KWH": "kWh", "LS": "forfetar", "ACT": "activitate"},
    "en": {"C62": "unit", "H87": "pc", "EA": "each", "MON": "month", "ANN": "year", "DAY": "day",
           "HUR": "hour", "MIN": "min", "WEE": "week", "E34": "GB", "E35": "TB", "4L": "MB",
           "KWH": "kWh", "LS": "lump sum", "ACT": "activity"},
}

# ISO 3166-2:RO county names. Bucharest is a municipality, not a county.
RO_COUNTY_NAMES: dict[str, str] = {
    "AB": "Alba", "AG": "Argeș", "AR": "Arad", "B": "București", "BC": "Bacău", "BH": "Bihor",
    "BN": "Bistrița-Năsăud", "BR": "Brăila", "BT": "Botoșani", "BV": "Brașov", "BZ": "Buzău",
    "CJ": "Cluj", "CL": "Călărași", "CS": "Caraș-Severin", "CT": "Constanța", "CV": "Covasna",
    "DB": "Dâmbovița", "DJ": "Dolj", "GJ": "Gorj", "GL": "Galați", "GR": "Giurgiu",
    "HD": "Hunedoara", "HR": "Harghita", "IF": "Ilfov", "IL": "Ialomița", "IS": "Iași",
    "MH": "Mehedinți", "MM": "Maramureș", "MS": "Mureș", "NT": "Neamț", "OT": "Olt",
    "PH": "Prahova", "SB": "Sibiu", "SJ": "Sălaj", "SM": "Satu Mare", "SV": "Suceava",
    "TL": "Tulcea", "TM": "Timiș", "TR": "Teleorman", "VL": "Vâlcea", "VN": "Vrancea",
    "VS": "Vaslui",
}

# Countries a Romanian hosting company bills most: the EU/EEA and frequent others.
# Any other country prints its ISO code, which is unambiguous.
COUNTRY_NAMES: dict[str, dict[str, str]] = {
    "ro": {
        "AT": "Austria", "BE": "Belgia", "BG": "Bulgaria", "CY": "Cipru", "CZ": "Cehia",
        "DE": "Germania", "DK": "Danemarca", "EE": "Estonia", "GR": "Grecia", "EL": "Grecia",
        "ES": "Spania", "FI": "Finlanda", "FR": "Franța", "HR": "Croația", "HU": "Ungaria",
        "IE": "Irlanda", "IT": "Italia", "LT": "Lituania", "LU": "Luxemburg", "LV": "Letonia",
        "MT": "Malta", "NL": "Țările de Jos", "PL": "Polonia", "PT": "Portugalia",
        "RO": "România", "SE": "Suedia", "SI": "Slovenia", "SK": "Slovacia",
        "NO": "Norvegia", "IS": "Islanda", "LI": "Liechtenstein", "CH": "Elveția",
        "GB": "Regatul Unit", "US": "Statele Unite ale Americii", "CA": "Canada",
        "MD": "Republica Moldova", "UA": "Ucraina", "RS": "Serbia", "TR": "Turcia",
        "IL": "Israel", "AE": "Emiratele Arabe Unite", "AU": "Australia", "JP": "Japonia",
        "CN": "China", "IN": "India",
    },
    "en": {
        "AT": "Austria", "BE": "Belgium", "BG": "Bulgaria", "CY": "Cyprus", "CZ": "Czechia",
        "DE": "Germany", "DK": "Denmark", "EE": "Estonia", "GR": "Greece", "EL": "Greece",
        "ES": "Spain", "FI": "Finland", "FR": "France", "HR": "Croatia", "HU": "Hungary",
        "IE": "Ireland", "IT": "Italy", "LT": "Lithuania", "LU": "Luxembourg", "LV": "Latvia",
        "MT": "Malta", "NL": "Netherlands", "PL": "Poland", "PT": "Portugal",
        "RO": "Romania", "SE": "Sweden", "SI": "Slovenia", "SK": "Slovakia",
        "NO": "Norway", "IS": "Iceland", "LI": "Liechtenstein", "CH": "Switzerland",
        "GB": "United Kingdom", "US": "United States", "CA": "Canada",
        "MD": "Moldova", "UA": "Ukraine", "RS": "Serbia", "TR": "Türkiye",
        "IL": "Israel", "AE": "United Arab Emirates", "AU": "Australia", "JP": "Japan",
        "CN": "China", "IN": "India",
    },
}

_EN_MONTHS = ("January", "February", "March", "April", "May", "June", "July", "August",
              "September", "October", "November", "December")


def format_date(day: date | None, language: str) -> str:
    """``02.03.2026`` in Romanian (the usual form on invoices), ``2 March 2026`` in English."""
    if day is None:
        return "—"
    if language == "ro":
        return f"{day:%d.%m.%Y}"
    return f"{day.day} {_EN_MONTHS[day.month - 1]} {day.year}"


def format_decimal(value: Decimal, language: str, *, min_places: int = 0) -> str:
    """A quantity, price or rate without trailing zeros beyond ``min_places`` decimals."""
    places = max(-value.normalize().as_tuple().exponent, min_places, 0)  # type: ignore[operator]
    text = f"{value.quantize(Decimal(1).scaleb(-places)):,f}"
    if language == "ro":
        text = text.replace(",", "\u2009").replace(".", ",").replace("\u2009", ".")
    return text


def format_rate(rate: Decimal, language: str) -> str:
    """A VAT rate as printed: ``21%``, ``9,5%`` (Romanian) or ``9.5%``."""
    return f"{format_decimal(Decimal(rate), language)}%"


def county_name(code: str | None, language: str) -> str | None:
    """``RO-CJ`` -> ``jud. Cluj`` / ``Cluj County``; Bucharest by name; other codes as given."""
    if not code:
        return None
    if code.startswith("RO-") and code[3:] in RO_COUNTY_NAMES:
        name = RO_COUNTY_NAMES[code[3:]]
        if code == "RO-B":
            return name if language == "ro" else "Bucharest"
        return f"jud. {name}" if language == "ro" else f"{name} County"
    return code


def city_name(city: str | None) -> str | None:
    """Bucharest sectors are stored as ``SECTOR1`` (CIUS-RO); print them as ``Sector 1``."""
    if city and city.startswith("SECTOR") and city[6:].isdigit():
        return f"Sector {city[6:]}"
    return city


def country_name(code: str | None, language: str) -> str | None:
    """The country's name in the document language, or its ISO code when not listed."""
    if not code:
        return None
    return COUNTRY_NAMES[language].get(code, code)


def unit_label(code: str, language: str) -> str:
    """The unit of measure for a UN/ECE Rec. 20 code, or the code itself."""
    return UNIT_LABELS[language].get(code, code)
