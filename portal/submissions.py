"""Creating forms act once: each rendered form carries a token, and a repeated
submission of the same token (a retry, a double click) gets the first result."""
import re
import secrets

from peewee import IntegrityError

from models import FormSubmission

# What new_token() makes; anything else posted is no token at all (an old page, a
# hand-made request), and the form then works as it always did.
TOKEN = re.compile(r"[A-Za-z0-9_-]{16,64}\Z")


def new_token():
    return secrets.token_urlsafe(24)


class Submission:
    """One submission of a creating form by one person. `result_url(result)` says
    where the result of the creation is shown."""

    def __init__(self, owner, token, result_url):
        self.owner = owner
        self.token = token if isinstance(token, str) and TOKEN.match(token) else None
        self.result_url = result_url

    def first_result(self):
        """The URL of the first result of this token, or None."""
        if self.token is None:
            return None
        first = FormSubmission.result_of(self.owner, self.token)
        return first.result_url if first else None

    def record(self, result):
        """Call inside the creating transaction: a simultaneous twin of this
        submission fails here on the unique (owner, token) and rolls back whole."""
        if self.token is not None:
            FormSubmission.create(owner=self.owner, token=self.token,
                                  result_url=self.result_url(result))


def once(submission, create):
    """(result, None) after running create(submission), or (None, url of the first
    result) when this token was already used, even by a request still running when
    this one started."""
    first = submission.first_result()
    if first is not None:
        return None, first
    try:
        return create(submission), None
    except IntegrityError:
        first = submission.first_result()
        if first is None:
            raise  # another constraint: not ours to explain
        return None, first
