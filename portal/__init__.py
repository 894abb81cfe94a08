"""The domain of Area Clienti: the rules of each area, the data exchange with the
billing system, the command line and the demo data. Nothing here reads a request or
renders a page: that is views/."""
