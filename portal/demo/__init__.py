"""Reproducible demo data for the portal.

`small.generate()` (`flask demo`) fills an empty database with the customers of a small
Tuscan gas and electricity utility: supply points, invoices since January 2014 with
their PDFs, billed consumption, 15-minute electricity measurements, documents, forms,
reading windows and gas self-readings. Everything derives from the seed and from
`today`, so the same arguments give the same rows and files (password hashes aside:
argon2 salts every hash at random). `scale.generate()` (`flask demo --scale
medium|large`) builds databases of a real utility's size from the same planners.

Two customers are fixed so that a demo can follow a script:
- 123456, ROSSI MARIO, not registered yet (try "Registrazione nuovo utente" with
  people.HOUSEHOLD_TAX_CODE), with gas point PR002874 of the customer guide and
  electricity point PR002875;
- 654321, a company (partita IVA people.COMPANY_TAX_CODE) already registered with
  password common.DEMO_PASSWORD, with two gas points (one with a volume corrector) and
  one electricity point.
The log of generate() ends with these identities.

The steps, each module using only those above it:
- common: the fixed customers, money, calendar helpers, batched inserts;
- people: Italian names, places, addresses and tax codes;
- plans: offers, tariffs, prices and the plans that become rows;
- supply: customers and their supply points;
- consumption: monthly energy, meters, technical and contract data, measurements;
- billing: billing periods, billed energy, bill amounts, invoice numbers;
- pdfs: invoices, letters and forms as PDF;
- records: letters, self-readings, reading windows, tickets;
- writes: the plans into the database, the PDFs onto disk;
- small: generate(), the realistic demo;
- scale: generate() at load-test sizes.
"""
