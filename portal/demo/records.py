"""The demo's letters, self-readings, reading windows and support tickets."""
import calendar
import datetime
from decimal import Decimal

from models import Customer, NoticeOptOut, PublicComplaint, SelfReading, Ticket, TicketMessage
from portal import tickets as case_rules
from portal.demo import common, consumption, plans
from portal.formatting import date_it, money

# ---------------------------------------------------------------------------
# Documents, self-readings, reading windows
# ---------------------------------------------------------------------------


def _plan_documents(customer, invoices_by_customer, today, rng):
    """1-3 letters: the contract, often a price change notice, a payment plan for
    customers who pay late."""
    first_point = min(customer.contract_points, key=lambda point: point.contract_start)
    signed = first_point.contract_start - datetime.timedelta(days=rng.randint(15, 40))
    commodities = " e ".join(sorted({"gas naturale" if point.is_gas else "energia elettrica"
                                     for point in customer.contract_points}))
    point_list = ", ".join(f"{point.code} ({'PDR' if point.is_gas else 'POD'} {point.pdr_pod})"
                           for point in customer.contract_points)
    documents = [plans._DocumentPlan(
        customer, "Contratto di fornitura", signed,
        f"Contratto di fornitura di {commodities}",
        [f"Gentile Cliente, Le confermiamo l'accettazione della Sua proposta di contratto per la "
         f"fornitura di {commodities} ai punti {point_list}.",
         f"La fornitura decorre dal {date_it(first_point.contract_start)} alle condizioni "
         f"dell'offerta {first_point.contract_data['contract_offer']} "
         f"({first_point.price_type.lower()}); le Condizioni Generali di Fornitura e la Scheda "
         "di confrontabilità allegate fanno parte integrante del contratto.",
         "Ha diritto di ripensarci entro 14 giorni dalla conclusione del contratto, senza "
         "alcuna penale, comunicandolo per iscritto al Servizio Clienti."])]
    notice = datetime.date(2022, 9, rng.randint(5, 25))
    if (customer.code in common.FIXED_CUSTOMERS or rng.random() < 0.5) and \
            first_point.contract_start < notice <= today:
        documents.append(plans._DocumentPlan(
            customer, "Comunicazione variazione prezzi", notice,
            "Comunicazione di variazione delle condizioni economiche",
            ["Gentile Cliente, a causa dell'eccezionale aumento dei prezzi all'ingrosso di gas "
             "ed energia elettrica, Le comunichiamo che dal 01/01/2023 i corrispettivi di "
             "vendita della Sua offerta saranno aggiornati come indicato nella tabella.",
             "La presente comunicazione Le viene inviata con un preavviso non inferiore a tre "
             "mesi. Entro la data di decorrenza può recedere dal contratto senza oneri.",
             "Per ogni chiarimento il Servizio Clienti è a Sua disposizione."],
            (["Voce", "Fino al 31/12/2022", "Dal 01/01/2023"],
             [["Gas naturale (euro/Smc)", "0,3850", "0,6420"],
              ["Energia elettrica (euro/kWh)", "0,0910", "0,1740"]])))
    unpaid = [invoice for invoice in invoices_by_customer.get(customer.code, [])
              if not invoice.paid]
    if customer.late_payer and unpaid:
        issued = max(invoice.date for invoice in unpaid)
        total = sum((invoice.total for invoice in unpaid), Decimal("0.00"))
        count = rng.randint(3, 6)
        share = common._money(total / count)
        due = [common._add_months(issued, months) for months in range(1, count + 1)]
        documents.append(plans._DocumentPlan(
            customer, "Piano di rateizzazione", min(issued + datetime.timedelta(days=2), today),
            "Accettazione della richiesta di rateizzazione",
            [f"Gentile Cliente, accogliamo la Sua richiesta di rateizzare l'importo di "
             f"{money(total)} relativo alle fatture "
             f"{', '.join(invoice.number for invoice in unpaid)}, in {count} rate mensili.",
             "Il mancato pagamento di una rata fa decadere il piano: l'importo residuo "
             "diventa esigibile in un'unica soluzione."],
            (["Rata", "Scadenza", "Importo"],
             [[str(index + 1), date_it(day),
               money(total - share * (count - 1) if index == count - 1 else share)]
              for index, day in enumerate(due)])))
    return documents


def _plan_self_readings(point, today, rng):
    """Monthly-ish readings over the last two years from the meter's real position;
    the newest ones of the guide's point and of the company's corrector point are
    still to be acquired."""
    scripted = point.customer.code in common.FIXED_CUSTOMERS
    cadence = 1.0 if scripted else rng.uniform(0.3, 0.8)
    first = max(common._add_months(today, -24), point.first_billed_month)
    candidates = (month.replace(day=rng.randint(20, 28)) for month in common._months(first, today))
    dates = [day for day in candidates if first <= day < today and rng.random() < cadence]
    # Still "Da acquisire", but never today: the demo user adds today's reading.
    if point.code == common.GUIDE_SUPPLY_POINT:
        pending = [today - datetime.timedelta(days=rng.randint(8, 12)),
                   today - datetime.timedelta(days=rng.randint(1, 3))]
    elif scripted and point.has_corrector:
        pending = [today - datetime.timedelta(days=rng.randint(1, 3))]
    else:
        pending = []
    if pending:
        dates = [day for day in dates if day < pending[0] - datetime.timedelta(days=10)]
    rows = []
    for day in dates + pending:
        consumed = consumption._consumed_until(point, day)
        submitted = common._utc(day, rng.randint(7, 21), rng.randint(0, 59))
        acquired = day not in pending
        corrector = int(point.corrector_base + consumed) if point.has_corrector else None
        acquired_at = None
        if acquired:
            acquired_at = submitted + datetime.timedelta(minutes=rng.randint(3, 32))
        rows.append({
            "supply_point": point.id,
            "customer": point.holder_on(day).id,
            "reading_date": day,
            "meter_reading": int(point.meter_base + consumed / point.volume_factor),
            "corrector_reading": corrector,
            "status": SelfReading.ACQUIRED if acquired else SelfReading.PENDING,
            "submitted_at": submitted,
            "acquired_at": acquired_at,
            "outcome": "validata" if acquired and rng.random() < 0.25 else None,
            "outcome_reason": "",
        })
    acquired_rows = [row for row in rows if row["status"] == SelfReading.ACQUIRED]
    if len(acquired_rows) >= 3 and (point.code == common.GUIDE_SUPPLY_POINT or rng.random() < 0.25):
        # A typo the billing system rejected: lower than the reading before it.
        index = rng.randrange(1, len(acquired_rows) - 1)
        rejected = acquired_rows[index]
        previous = acquired_rows[index - 1]["meter_reading"]
        rejected["meter_reading"] = max(0, previous - rng.randint(15, 250))
        rejected["outcome"] = "scartata"
        rejected["outcome_reason"] = "Lettura inferiore alla precedente"
        if point.code == common.GUIDE_SUPPLY_POINT:
            acquired_rows[-1]["outcome"] = "validata"
    return rows


def _reading_windows(today):
    """The customer guide's always-open window and the last three monthly ones."""
    windows = [{"supply_point": None,
                "start_at": datetime.datetime(2010, 2, 11, 8, 0),
                "end_at": datetime.datetime(2099, 2, 14, 22, 0)}]
    for months_back in (3, 2, 1):
        month = common._add_months(today.replace(day=1), -months_back)
        last_day = calendar.monthrange(month.year, month.month)[1]
        windows.append({"supply_point": None,
                        "start_at": datetime.datetime(month.year, month.month, 25, 8, 0),
                        "end_at": datetime.datetime(month.year, month.month, last_day, 22, 0)})
    return windows


# ---------------------------------------------------------------------------
# Tickets
# ---------------------------------------------------------------------------

# The company's threads: one answered and closed, one the back-office is working on
# (with an internal note the customer never sees). Each message: (days before today,
# hour, who: "customer", "reply" or "note", text).
_COMPANY_TICKETS = (
    ("Fatturazione", "Conguaglio gas più alto del previsto", Ticket.CLOSED, 0, (
        (41, 9, "customer", "Buongiorno, la fattura di conguaglio del punto gas è quasi il "
                            "doppio della precedente. Potete verificare le letture usate?"),
        (40, 15, "reply", "Buongiorno, la fattura comprende il conguaglio di quattro mesi "
                          "stimati: l'ultima lettura rilevata dal distributore era più alta "
                          "della stima. Per evitare conguagli può inserire l'autolettura "
                          "nei periodi indicati nella pagina Autolettura Contatore."),
        (39, 10, "customer", "Chiaro, grazie. Inserirò l'autolettura ogni mese."),
    )),
    ("Letture", "Lettura del correttore", Ticket.IN_PROGRESS, 0, (
        (3, 11, "customer", "Il display del correttore mostra due valori: quale dei due va "
                            "inserito nell'autolettura?"),
        (2, 9, "note", "Chiedere al distributore il modello del correttore installato."),
        (2, 16, "reply", "Buongiorno, stiamo verificando con il distributore il modello del "
                         "correttore installato: le risponderemo entro due giorni lavorativi."),
    )),
)
# The case type of each demo thread (by subject; the rest follow their category).
_CASE_KINDS = {"Conguaglio gas più alto del previsto": "rettifica",
               "Lettura del correttore": "informazioni", "Rateizzazione": "rateizzazione",
               "Cambio intestatario": "informazioni"}
# Cases that show the deadlines: the company's complaint past its 30 days without an
# answer (overdue in the back-office, with the indemnity it is earning), and the
# household's complaint sent without login and matched by its bill data.
_DEADLINE_CASES = (
    (common.COMPANY_CODE, "reclamo", "Fattura addebitata due volte in banca", 32,
     "La fattura di ottobre mi è stata addebitata due volte sul conto corrente: chiedo il "
     "rimborso del secondo addebito.", "CP"),
    (common.HOUSEHOLD_CODE, "reclamo", "Letture stimate da mesi", 27,
     "Da sei mesi le fatture riportano letture stimate anche se il contatore è accessibile.",
     "CW"),
)
# Cases answered after their deadline: the customer's page shows the automatic indemnity
# due on the next bill (each: customer, type, subject, messages as in _COMPANY_TICKETS).
_LATE_ANSWERS = (
    (common.COMPANY_CODE, "reclamo", "Bolletta di settembre non recapitata", (
        (75, 9, "customer", "La bolletta di settembre non è arrivata né per posta né per "
                            "e-mail: vi chiedo di inviarla e di verificare l'indirizzo."),
        (35, 11, "reply", "Buongiorno, la bolletta era stata spedita a un indirizzo non "
                          "aggiornato: gliel'abbiamo inviata per e-mail e abbiamo corretto "
                          "l'indirizzo. Ci scusiamo per il ritardo della risposta."),
    )),
    (common.HOUSEHOLD_CODE, "doppia", "Stesso periodo fatturato due volte", (
        (50, 10, "customer", "Ho ricevuto due fatture per lo stesso periodo di consumo."),
        (20, 15, "reply", "Buongiorno, la seconda fattura è stata annullata: non deve "
                          "pagarla. Ci scusiamo per il ritardo della risposta."),
    )),
)
_OTHER_SUBJECTS = (
    ("Fatturazione", "Richiesta duplicato fattura",
     "Non trovo la fattura di gennaio tra i documenti: potete inviarmene una copia?"),
    ("Contratto", "Cambio intestatario",
     "Devo volturare la fornitura a mia figlia: quali documenti servono?"),
    ("Letture", "Autolettura non accettata",
     "Ho inserito la lettura ma risulta scartata: il contatore segna proprio quel valore."),
    ("Guasto / tecnico", "Contatore con display spento",
     "Da ieri il display del contatore è spento. Devo chiamare il distributore?"),
    ("Altro", "Modalità di pagamento",
     "Vorrei passare dal bollettino all'addebito diretto sul conto corrente."),
    ("Fatturazione", "Rateizzazione",
     "È possibile pagare l'ultima fattura in tre rate?"),
)


def _ticket_rows(ticket, messages, today, customer_id, point_id):
    """The Ticket row and its TicketMessage rows; times are UTC, the thread's last
    message is the ticket's last activity."""
    def at(days, hour):
        return common._utc(today - datetime.timedelta(days=days), hour)

    created, updated = at(*messages[0][:2]), at(*messages[-1][:2])
    category, subject, status = ticket
    row = {"customer": customer_id, "supply_point": point_id, "category": category,
           "subject": subject, "status": status, "created_at": created, "updated_at": updated}
    message_rows = [{"from_customer": who == "customer", "internal": who == "note",
                     "operator": None, "body": text, "created_at": at(days, hour)}
                    for days, hour, who, text in messages]
    return row, message_rows


def _insert_tickets(planned, today, rng):
    """The company's two threads, and one open request from each of a few other
    registered customers waiting in the back-office queue."""
    company = next(customer for customer in planned if customer.code == common.COMPANY_CODE)
    gas_points = [point for point in company.points if point.is_gas]
    threads = [_ticket_rows((category, subject, status), messages, today, company.id,
                            gas_points[point_index].id)
               for category, subject, status, point_index, messages in _COMPANY_TICKETS]
    others = [customer for customer in planned
              if customer.code not in common.FIXED_CUSTOMERS and customer.registered_at is not None]
    for customer, (category, subject, text) in zip(rng.sample(others, min(len(others), 6)),
                                                    _OTHER_SUBJECTS):
        days = rng.randint(1, 6)
        threads.append(_ticket_rows((category, subject, Ticket.OPEN),
                                    ((days, rng.randint(8, 19), "customer", text),),
                                    today, customer.id, rng.choice(customer.points).id))
    by_code = {customer.code: customer for customer in planned}
    for code, kind, subject, days, text, _prefix in _DEADLINE_CASES:
        customer = by_code[code]
        threads.append(_ticket_rows(("Altro", subject, Ticket.OPEN), ((days, 10, "customer", text),),
                                    today, customer.id, customer.points[0].id))
    for code, kind, subject, messages in _LATE_ANSWERS:
        customer = by_code[code]
        threads.append(_ticket_rows(("Altro", subject, Ticket.CLOSED), messages, today,
                                    customer.id, customer.points[0].id))
    prefixes = {subject: prefix for _c, _k, subject, _d, _t, prefix in _DEADLINE_CASES}
    kinds = {subject: kind for _c, kind, subject, _d, _t, _p in _DEADLINE_CASES}
    kinds.update({subject: kind for _c, kind, subject, _m in _LATE_ANSWERS})
    message_count = 0
    for ticket_row, message_rows in threads:
        subject = ticket_row["subject"]
        kind = kinds.get(subject) or _CASE_KINDS.get(subject) or {
            "Fatturazione": "informazioni", "Letture": "informazioni",
            "Contratto": "informazioni"}.get(ticket_row["category"], "altro")
        received = ticket_row["created_at"]
        answers = [row["created_at"] for row in message_rows
                   if not row["from_customer"] and not row["internal"]]
        ticket_id = Ticket.insert(dict(
            ticket_row, kind=kind, received_at=received, details={},
            answered_at=min(answers) if answers else None,
            outcome="Informazioni fornite" if answers and ticket_row["status"] == Ticket.CLOSED
            else "", due_on=case_rules.due_date(kind, received))).execute()
        code = case_rules.case_code(ticket_id, received, prefixes.get(subject, "CP"))
        Ticket.update(code=code).where(Ticket.id == ticket_id).execute()
        if prefixes.get(subject) == "CW":
            household = by_code[common.HOUSEHOLD_CODE]
            PublicComplaint.insert(
                name=household.name, customer_code=household.code, address=household.address,
                email="mario.rossi@example.it", subject=subject, body=message_rows[0]["body"],
                status=PublicComplaint.MATCHED, code=code, created_at=received,
                expires_at=received, confirmed_at=received, ticket=ticket_id).execute()
        message_count += common._insert(TicketMessage, [dict(row, ticket=ticket_id)
                                                        for row in message_rows])
    # A complaint without login whose data match nobody: waiting for an operator.
    sent = common._utc(today - datetime.timedelta(days=2), 18)
    unmatched = PublicComplaint.insert(
        name="Giuseppe Verdi", customer_code="", point_code="03340009799999",
        address="VIA GARIBALDI 12 - 57014 COLLESALVETTI (LI)", email="g.verdi@example.it",
        subject="Bolletta non ricevuta", body="Non ho ricevuto la bolletta di settembre.",
        status=PublicComplaint.UNMATCHED, created_at=sent, expires_at=sent,
        confirmed_at=sent).execute()
    PublicComplaint.update(code=case_rules.case_code(unmatched, sent, "CW")).where(
        PublicComplaint.id == unmatched).execute()
    return len(threads), message_count


# ---------------------------------------------------------------------------
# Notices and bolletta web
# ---------------------------------------------------------------------------

def _choose_notices(today):
    """The company chose bolletta web three months ago and no mail about reading
    windows (it reads its meters remotely): Avvisi e bolletta web shows both. The
    household (123456) has chosen nothing yet: every notice on, paper bills."""
    company = Customer.get(Customer.code == common.COMPANY_CODE)
    chosen_at = datetime.datetime.combine(today - datetime.timedelta(days=90),
                                          datetime.time(9, 30))
    (Customer.update(paperless=True, paperless_changed_at=chosen_at)
     .where(Customer.id == company.id).execute())
    NoticeOptOut.create(customer=company, kind="reading_windows", created_at=chosen_at)
    return 1


# ---------------------------------------------------------------------------
# Ways to pay (issue #18)
# ---------------------------------------------------------------------------

# The unpaid invoices of the two demo customers' points, one of each kind: pagoPA,
# payment link, direct debit and transfer only (every unpaid invoice also shows it).
PAYMENT_WAYS = {"PR002874": "pagopa", "PR002875": "transfer", "PR004410": "link",
                "PR004411": "direct_debit", "PR004412": "pagopa", "PR004413": "transfer"}
DEMO_CREDITOR = "00123450017"          # a well-formed, made-up codice fiscale of a body
DEMO_IBAN = "IT60X0542811101000000123456"  # the well-known example IBAN


def _set_payment_ways():
    """Give the demo customers' unpaid invoices their ways to pay, and 654321 an active
    direct-debit mandate on the point paid that way; returns the mandates made."""
    from models import DirectDebitMandate, Invoice, SupplyPoint, utcnow
    mandates = 0
    for code, way in PAYMENT_WAYS.items():
        point = SupplyPoint.get_or_none(SupplyPoint.code == code)
        if point is None or way == "transfer":
            continue
        for invoice in Invoice.select().where((Invoice.supply_point == point)
                                              & (Invoice.paid == False)):  # noqa: E712
            year, sequence = invoice.number[2:6], invoice.number.split("-")[-1]
            changes = {
                "pagopa": dict(pagopa_notice=f"30200{year}{int(sequence):09d}",
                               pagopa_creditor=DEMO_CREDITOR),
                "link": dict(payment_link=f"https://pagamenti.example.it/paga/{invoice.number}"),
                "direct_debit": dict(direct_debit_iban=f"{DEMO_IBAN[:2]}..{DEMO_IBAN[-4:]}"),
            }[way]
            Invoice.update(**changes).where(Invoice.id == invoice.id).execute()
        if way == "direct_debit":
            DirectDebitMandate.create(
                reference=f"ACM-DEMO-{point.code}", customer=point.customer_id,
                supply_point=point, iban=DEMO_IBAN,
                account_holder="TERMOMECCANICA COLLESALVETTI S.R.L.",
                status=DirectDebitMandate.ACTIVE,
                signed_at=utcnow() - datetime.timedelta(days=400),
                exported_at=utcnow() - datetime.timedelta(days=400))
            mandates += 1
    return mandates


# The demo customers' reported payments: 123456's waits in the back-office queue,
# 654321's an operator already verified (it shows under "Verificati"); both invoices
# stay unpaid, "pagamento segnalato il ..." until billing says paid.
PAYMENT_REPORTS = {"PR002875": None,
                   "PR004413": "Accredito visto sul conto: in attesa dell'incasso in fatturazione."}


def _report_payments(files_dir, write):
    """A receipt for the unpaid invoice of each point of PAYMENT_REPORTS; returns how
    many reports were made."""
    from fpdf import FPDF

    from models import Invoice, PaymentReport, SupplyPoint, utcnow
    made = 0
    for code, verified_note in PAYMENT_REPORTS.items():
        invoice = (Invoice.select().join(SupplyPoint)
                   .where((SupplyPoint.code == code) & (Invoice.paid == False))  # noqa: E712
                   .order_by(Invoice.date.desc()).first())
        if invoice is None:
            continue
        pdf = FPDF(format="A4")
        pdf.add_page()
        pdf.set_font("Helvetica", "", 12)
        pdf.multi_cell(0, 7, f"Ricevuta di bonifico\nFattura {invoice.number}\n"
                             f"Importo {money(invoice.amount)}".replace("\u20ac", "EUR"))
        relative = f"payment-reports/demo-{invoice.number}.pdf"
        write(files_dir, relative, bytes(pdf.output()))
        reported = utcnow() - datetime.timedelta(days=2)
        PaymentReport.create(
            invoice=invoice, customer=invoice.customer_id, file_path=relative,
            file_name=f"ricevuta-{invoice.number}.pdf", content_type="application/pdf",
            reported_at=reported,
            handled_at=reported + datetime.timedelta(hours=20) if verified_note else None,
            handled_note=verified_note)
        made += 1
    return made
