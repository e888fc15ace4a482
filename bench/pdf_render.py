"""Benchmark: PDF invoices rendered per second (WeasyPrint).

Builds N issued documents in a throw-away SQLite database (invoices of 1 to 8 lines, some
in EUR, some credit notes, Romanian and English), then measures:

- the view and HTML alone (figures, labels, Jinja);
- one process rendering every PDF in turn, with the per-thread engine reused (the
  production path);
- the same without reuse (stylesheet parsed and fonts registered for every PDF), to show
  what the reuse buys;
- P worker processes rendering in parallel (what a Celery worker pool does).

Usage: python bench/pdf_render.py [-n 200] [--processes 2] [--no-write]
Appends a section to docs/benchmarks.md with the machine and the date.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import platform
import tempfile
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
NOW = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)
ITEMS = [
    ("Găzduire web Pro (lunar)", "1", "49.90"), ("Înregistrare domeniu .ro", "1", "45.00"),
    ("VPS 4 vCPU / 8 GB – ședință", "1", "189.00"), ("Spațiu suplimentar SSD (GB)", "20", "0.35"),
    ("Backup zilnic", "1", "25.00"), ("Certificat SSL Wildcard", "1", "399.00"),
    ("Suport tehnic (ore)", "2.5", "150.00"), ("Adresă IP suplimentară", "2", "12.00"),
]


def create_app_for(url: str):
    from praho.core.app import create_app
    from praho.core.testing import StaticTestPlugin, config_for_tests

    return create_app(config_for_tests(url), plugins=[("static_test", StaticTestPlugin())])


def build_documents(url: str, count: int) -> list[int]:
    """Issue ``count`` documents and commit them; return their ids."""
    from praho.core.services.credit_notes import issue_credit_note
    from praho.core.services.setup import ensure_reference_data
    from praho.core.testing import PrahoFactory, reset_database

    reset_database(url)
    app = create_app_for(url)
    ids: list[int] = []
    with app.app_context():
        database = app.extensions["praho.db"]
        with database.transaction() as session:
            ensure_reference_data(session)
            factory = PrahoFactory(session)
            factory.seller()
            customers = [
                factory.customer(legal_name="Ștefănescu & Țurcanu Construcții SRL", city="Iași",
                                 county="RO-IS", street="Bd. Ștefan cel Mare 12"),
                factory.customer(legal_name="Müller Hosting GmbH", street="Hauptstraße 5",
                                 city="München", county=None, country="DE", cui=None,
                                 vat_id="DE136695976", currency="EUR", language="en"),
                factory.customer(legal_name="Ion Popescu", kind="individual", cui=None, vat_id=None,
                                 street="Str. Florilor 7", city="Timișoara", county="RO-TM"),
            ]
            for n in range(count):
                customer = customers[n % len(customers)]
                lines = [ITEMS[(n + k) % len(ITEMS)] for k in range(1 + n % 8)]
                moment = NOW + timedelta(minutes=n)
                invoice = factory.invoice(customer, lines=lines, now=moment,
                                          currency=customer.currency,
                                          period_start=date(2026, 3, 1),
                                          period_end=date(2026, 3, 31))
                if n % 10 == 9:
                    invoice = issue_credit_note(session, invoice, reason="Serviciu reziliat",
                                                now=moment)
                ids.append(invoice.id)
    database.dispose()
    return ids


# --- worker processes --------------------------------------------------------------

_worker: dict[str, object] = {}


def _init_worker(url: str, first_id: int) -> None:
    from praho.core.services.pdf import warm_up

    app = create_app_for(url)
    context = app.app_context()
    context.push()
    _worker.update(app=app, context=context, session=app.extensions["praho.db"].session_factory())
    warm_up()
    _render_ids([first_id])


def _render_ids(ids: list[int]) -> float:
    """Render the documents; return the CPU seconds this worker spent."""
    from praho.core.models import Invoice
    from praho.core.services.pdf import render_document_pdf

    session = _worker["session"]
    started = time.process_time()
    for document_id in ids:
        invoice = session.get(Invoice, document_id)  # type: ignore[attr-defined]
        render_document_pdf(session, invoice)
    session.expire_all()  # type: ignore[attr-defined]
    return time.process_time() - started


def _ready(_: int) -> bool:
    time.sleep(0.3)  # long enough for every worker to take one and finish starting up
    return True


def measure_processes(url: str, ids: list[int], processes: int) -> tuple[float, float]:
    """(documents per wall-clock second, CPU milliseconds per document) with P workers."""
    context = multiprocessing.get_context("spawn")
    with context.Pool(processes, initializer=_init_worker, initargs=(url, ids[0])) as pool:
        pool.map(_ready, range(processes * 2), chunksize=1)
        chunks = [ids[i::processes] for i in range(processes)]
        start = time.perf_counter()
        cpu = pool.map(_render_ids, chunks, chunksize=1)
        elapsed = time.perf_counter() - start
    return len(ids) / elapsed, sum(cpu) / len(ids) * 1000


# --- single process -----------------------------------------------------------------


def measure_single(url: str, ids: list[int]) -> dict[str, float]:
    from praho.core.models import Invoice
    from praho.core.services import pdf

    app = create_app_for(url)
    results: dict[str, float] = {}
    with app.app_context():
        session = app.extensions["praho.db"].session_factory()
        documents = [session.get(Invoice, i) for i in ids]
        for document in documents:  # load what rendering reads, outside the timings
            _ = (document.lines, document.allowances, document.tax_subtotals,
                 document.original_invoice)
        pdf.warm_up()
        pdf.render_document_pdf(session, documents[0])

        start = time.perf_counter()
        htmls = [pdf.render_document_html(session, d) for d in documents]
        results["html"] = len(documents) / (time.perf_counter() - start)

        start, cpu = time.perf_counter(), time.process_time()
        sizes = [len(pdf.render_document_pdf(session, d)) for d in documents]
        results["reuse"] = len(documents) / (time.perf_counter() - start)
        results["cpu_ms"] = (time.process_time() - cpu) / len(documents) * 1000
        results["size_kb"] = sum(sizes) / len(sizes) / 1024

        sample = htmls[: max(len(htmls) // 4, 10)]
        start = time.perf_counter()
        for html in sample:
            pdf._Engine().write_pdf(html)  # a fresh engine each time: no reuse
        results["naive"] = len(sample) / (time.perf_counter() - start)
        session.close()
    app.extensions["praho.db"].dispose()
    return results


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", "--count", type=int, default=200, help="documents to render")
    parser.add_argument("--processes", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--no-write", action="store_true", help="print only")
    args = parser.parse_args()

    import weasyprint

    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{tmp}/bench.db"
        ids = build_documents(url, args.count)
        single = measure_single(url, ids)
        parallel, parallel_cpu_ms = measure_processes(url, ids, args.processes)
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")

    rows = [
        ("view + HTML only (no PDF)", single["html"]),
        ("PDF, 1 process, engine reused (production path)", single["reuse"]),
        ("PDF, 1 process, stylesheet and fonts rebuilt per PDF", single["naive"]),
        (f"PDF, {args.processes} processes, engine reused", parallel),
    ]
    for label, rate in rows:
        print(f"{label:<56} {rate:8.1f} per second")
    print(f"average PDF size {single['size_kb']:.0f} KiB")
    # What the cores could do if nothing else ran: the CPU cost measured with P workers
    # (higher than with one: the workers share caches and memory bandwidth).
    capacity = min(args.processes, os.cpu_count() or 1) * 1000 / parallel_cpu_ms
    print(f"CPU per PDF: {single['cpu_ms']:.0f} ms (1 process), {parallel_cpu_ms:.0f} ms "
          f"({args.processes} processes); {args.processes} idle cores => "
          f"about {capacity:.0f} PDFs/s")
    print(f"load average (1 min) at the end: {load:.2f}")
    if args.no_write:
        return
    machine = (f"{cpu_model()}, {os.cpu_count()} cores, Python {platform.python_version()}, "
               f"WeasyPrint {weasyprint.__version__}, {platform.system()}")
    lines = [
        "",
        f"## PDF rendering ({datetime.now(UTC):%Y-%m-%d %H:%M} UTC)",
        "",
        f"`python bench/pdf_render.py -n {args.count} --processes {args.processes}` on {machine}.",
        f"{args.count} issued documents (invoices of 1-8 lines in RON and EUR, 10% credit notes,",
        "Romanian and English), A4, embedded DejaVu Sans; "
        f"average PDF {single['size_kb']:.0f} KiB.",
        "",
        "| what | documents per second |",
        "| --- | ---: |",
        *[f"| {label} | {rate:.1f} |" for label, rate in rows],
        "",
        f"CPU time per PDF: {single['cpu_ms']:.0f} ms in one process, "
        f"{parallel_cpu_ms:.0f} ms per PDF with {args.processes} processes, so {args.processes} "
        "otherwise idle cores",
        f"would give about {capacity:.0f} PDFs/s. Load average (1 min) when the run ended: "
        f"{load:.2f}; the machine is",
        "shared, so the wall-clock rates above are what was left for this run.",
        "",
        "Target (issue 11): 20 PDFs per second on this 2-core machine.",
    ]
    target = ROOT / "docs" / "benchmarks.md"
    if not target.exists():
        target.write_text(
            "# Benchmarks\n\nMeasured by the scripts in `bench/`; newest sections last.\n",
            encoding="utf-8",
        )
    with target.open("a", encoding="utf-8") as handle:
        handle.write("\n".join(lines) + "\n")
    print(f"appended to {target}")


if __name__ == "__main__":
    main()
