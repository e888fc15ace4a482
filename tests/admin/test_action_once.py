"""Every back-office action runs once per rendered form.

A double click, the browser's "resubmit" or a retry after a lost answer sends the same
form again. Credit notes are gapless and can never be deleted and refunds move money, so
the second submission must do nothing and show what the first one did. The key is
claimed in the action's transaction, so a refused submission can be corrected and sent.
"""

from __future__ import annotations

from praho.admin.testing import form_key
from praho.admin.views.base import FORM_KEY_FIELD
from praho.core.models import DocumentKind, Invoice
from praho.core.models.payments import Payment
from praho.core.models.refunds import Refund
from praho.core.payments.testing import customer_with_card
from praho.core.services.payments import charge_invoice
from sqlalchemy import func, select

from .conftest import csrf_token


def _credit_notes(database):
    with database.transaction() as session:
        notes = session.execute(
            select(Invoice).where(Invoice.kind == DocumentKind.CREDIT_NOTE).order_by(Invoice.id)
        ).scalars()
        return [(note.id, note.total_minor) for note in notes]


def _form(client, url):
    """The action form as a browser has it: CSRF token and single-use key."""
    html = client.get(url).get_data(as_text=True)
    key = form_key(html)
    assert key, "the action form carries no single-use key"
    return {"csrf_token": csrf_token(html), FORM_KEY_FIELD: key}


def _invoice(seed):
    return seed(lambda f, s: f.invoice(lines=[("Server dedicat", "1", "1000.00")]).id)


def test_a_credit_note_form_sent_twice_issues_one_credit_note(
    admin_client, seed, praho_committing
):
    invoice_id = _invoice(seed)
    admin_client.login("billing")
    url = f"/admin/invoices/record-action/credit_note/?id={invoice_id}"
    form = {**_form(admin_client, url), "reason": "discount agreed", "amount": "100,00"}
    first = admin_client.client.post(url, data=form)
    again = admin_client.client.post(url, data=form)  # double click / resubmit
    [(note_id, total)] = _credit_notes(praho_committing)
    assert first.headers["Location"].endswith(f"/admin/credit_notes/details/?id={note_id}")
    # The second answer leads to the credit note already issued, and says so.
    assert again.status_code == 302 and again.headers["Location"] == first.headers["Location"]
    shown = admin_client.get(again.headers["Location"]).get_data(as_text=True)
    assert "already sent" in shown
    with praho_committing.transaction() as session:
        assert session.get(Invoice, invoice_id).credited_minor == total


def test_a_refund_form_sent_twice_requests_one_refund(admin_client, seed, praho_committing):
    invoice_id = seed(
        lambda f, s: f.invoice(customer_with_card(f), [("Web Hosting", "1", "100.00")]).id
    )
    with praho_committing.transaction() as session:
        attempt_id = charge_invoice(session, session.get(Invoice, invoice_id), reason="manual").id
    with praho_committing.transaction() as session:
        payment_id = session.execute(
            select(Payment.id).where(Payment.attempt_id == attempt_id)
        ).scalar_one()
    admin_client.login("billing")
    url = f"/admin/payments/record-action/refund/?id={payment_id}"
    form = {**_form(admin_client, url), "amount": "50.00", "reason": "service_failure",
            "destination": "original"}
    answers = [admin_client.client.post(url, data=form) for _ in range(2)]
    assert [a.status_code for a in answers] == [302, 302]
    with praho_committing.transaction() as session:
        refunds = session.execute(select(Refund)).scalars().all()
        assert [(r.amount_minor, r.status) for r in refunds] == [(5000, "pending")]
    page = admin_client.get(answers[1].headers["Location"]).get_data(as_text=True)
    assert "already sent" in page and refunds[0].reference in page


def test_a_form_sent_again_with_other_values_is_refused_and_changes_nothing(
    admin_client, seed, praho_committing
):
    invoice_id = _invoice(seed)
    admin_client.login("billing")
    url = f"/admin/invoices/record-action/credit_note/?id={invoice_id}"
    form = {**_form(admin_client, url), "reason": "discount agreed", "amount": "100,00"}
    assert admin_client.client.post(url, data=form).status_code == 302
    changed = admin_client.client.post(url, data={**form, "amount": "200,00"})
    assert changed.status_code == 302 and "record-action" in changed.headers["Location"]
    assert "other values" in admin_client.get(changed.headers["Location"]).get_data(as_text=True)
    assert len(_credit_notes(praho_committing)) == 1


def test_a_refused_submission_can_be_corrected_and_sent_with_the_same_form(
    admin_client, seed, praho_committing
):
    invoice_id = _invoice(seed)
    admin_client.login("billing")
    url = f"/admin/invoices/record-action/credit_note/?id={invoice_id}"
    form = {**_form(admin_client, url), "reason": "discount agreed"}
    refused = admin_client.client.post(url, data={**form, "amount": "1.500"})  # ambiguous
    assert "record-action" in refused.headers["Location"]
    assert _credit_notes(praho_committing) == []
    # The refusal rolled the claim back: the corrected form (browser back) goes through.
    assert admin_client.client.post(url, data={**form, "amount": "15,00"}).status_code == 302
    assert len(_credit_notes(praho_committing)) == 1


def test_two_forms_opened_one_after_the_other_run_twice(admin_client, seed, praho_committing):
    invoice_id = _invoice(seed)
    admin_client.login("billing")
    url = f"/admin/invoices/record-action/credit_note/?id={invoice_id}"
    for _ in range(2):  # a deliberate second credit note: a new form, a new key
        form = {**_form(admin_client, url), "reason": "discount agreed", "amount": "10,00"}
        assert admin_client.client.post(url, data=form).status_code == 302
    assert len(_credit_notes(praho_committing)) == 2


def test_the_same_request_without_a_form_key_is_still_run_once(
    admin_client, seed, praho_committing
):
    # A script or an old page posts only the CSRF token: the request sent again is the
    # same request, keyed by that token.
    invoice_id = _invoice(seed)
    admin_client.login("billing")
    url = f"/admin/invoices/record-action/credit_note/?id={invoice_id}"
    token = csrf_token(admin_client.get(url).get_data(as_text=True))
    form = {"csrf_token": token, "reason": "discount agreed", "amount": "100.00"}
    for _ in range(2):
        assert admin_client.client.post(url, data=form).status_code == 302
    assert len(_credit_notes(praho_committing)) == 1


def test_a_staff_note_sent_twice_is_added_once(admin_client, seed, praho_committing):
    from praho.admin.models import StaffNote

    invoice_id = _invoice(seed)
    admin_client.login("support")
    details = f"/admin/invoices/details/?id={invoice_id}"
    html = admin_client.get(details).get_data(as_text=True)
    form = {"csrf_token": csrf_token(html), FORM_KEY_FIELD: form_key(html),
            "id": str(invoice_id), "body": "Customer called about VAT"}
    for _ in range(2):
        assert admin_client.client.post("/admin/invoices/note/", data=form).status_code == 302
    with praho_committing.transaction() as session:
        assert session.execute(select(func.count(StaffNote.id))).scalar_one() == 1


def test_every_action_form_carries_a_fresh_single_use_key(admin_client, seed, praho_app):
    from praho.admin.views.base import PrahoModelView

    invoice_id = _invoice(seed)
    admin_client.login("billing")
    url = f"/admin/invoices/record-action/void/?id={invoice_id}"
    keys = {form_key(admin_client.get(url).get_data(as_text=True)) for _ in range(3)}
    assert len(keys) == 3 and None not in keys
    # The machinery is the base view's: no view replaces the action endpoint.
    for view in praho_app.extensions["praho.admin"]._views:
        if isinstance(view, PrahoModelView):
            assert type(view).record_action_view is PrahoModelView.record_action_view, view
