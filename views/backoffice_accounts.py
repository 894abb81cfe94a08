"""Operatori (admins only): the back-office accounts, a new one, deactivation and
reactivation, a new password; the same rules as `flask operator`, on the operator
blueprint. And every operator's own page, La mia password."""
from flask import request, session
from flask_login import current_user, login_user
from flask_wtf import FlaskForm
from wtforms import PasswordField, SelectField, StringField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, ValidationError

from models import Operator
from portal import backoffice
from views import get_or_404, render_page
from views.auth import current_password_confirmed, current_password_limit
from views.backoffice import audit_action, bp, done, operator_required
from views.tickets import REQUIRED, single_line

ROLE_LABELS = {Operator.OPERATOR: "Operatore", Operator.ADMIN: "Amministratore"}
NOT_YOURSELF = "Non puoi disattivare il tuo account: chiedi a un altro amministratore."
NOT_YOUR_PASSWORD = ("La tua password non si cambia da qui, perché servirebbe quella attuale: "
                     "usa la pagina «La mia password».")


# --- Forms ------------------------------------------------------------------------

def _role_choice(form, field):
    if field.data not in backoffice.ROLES:
        raise ValidationError("Scegli un ruolo dall'elenco.")


def _same_password(form, field):
    if field.data != form.password.data:
        raise ValidationError("Le due password non coincidono.")


def _add_errors(form, errors):
    """Messages of the account rules beside their fields (one per field: a field that
    failed a simpler check already says what to fix first)."""
    for name, messages in errors.items():
        if not form[name].errors:
            form[name].errors.extend(messages)


class NewOperatorForm(FlaskForm):
    username = StringField("Nome utente", [DataRequired(REQUIRED)])
    name = StringField("Nome e cognome", filters=[single_line])
    role = SelectField("Ruolo", [_role_choice], validate_choice=False, default=Operator.OPERATOR,
                       choices=[SelectChoice(role, label) for role, label in ROLE_LABELS.items()])
    password = PasswordField("Password", [DataRequired(REQUIRED)])
    confirm = PasswordField("Ripeti la password", [DataRequired(REQUIRED), _same_password])

    def validate(self, extra_validators=None):
        valid = super().validate(extra_validators)
        errors = backoffice.account_errors(self.username.data or "", self.password.data or "",
                                           self.role.data, self.name.data or "")
        _add_errors(self, errors)
        return valid and not errors


class PasswordForm(FlaskForm):
    password = PasswordField("Nuova password", [DataRequired(REQUIRED)])
    confirm = PasswordField("Ripeti la nuova password", [DataRequired(REQUIRED), _same_password])

    def __init__(self, account, **kwargs):
        super().__init__(**kwargs)
        self.account = account

    def validate(self, extra_validators=None):
        valid = super().validate(extra_validators)
        errors = backoffice.password_errors(self.account.username, self.password.data or "")
        _add_errors(self, {"password": errors} if errors else {})
        return valid and not errors


class OwnPasswordForm(FlaskForm):
    current_password = PasswordField("Password attuale", [DataRequired(REQUIRED)])
    password = PasswordField("Nuova password", [DataRequired(REQUIRED)])
    confirm = PasswordField("Ripeti la nuova password", [DataRequired(REQUIRED), _same_password])

    def validate_password(self, field):
        errors = backoffice.password_errors(current_user.username, field.data or "")
        if field.data and field.data == self.current_password.data:
            errors.append("La nuova password deve essere diversa da quella attuale.")
        if errors:
            raise ValidationError(" ".join(errors))


# --- Views ------------------------------------------------------------------------

@bp.get("/password")
@bp.post("/password")
@operator_required()
@current_password_limit()
def own_password():
    """La mia password: every operator changes their own (and must, after an admin
    chose it); the other sessions of the account end."""
    form = OwnPasswordForm()
    forced = current_user.must_change_password
    if form.validate_on_submit():
        if current_password_confirmed(current_user._get_current_object(),
                                      form.current_password.data,
                                      "operator_password_change_refused"):
            backoffice.set_password(current_user._get_current_object(), form.password.data)
            # This session goes on with the new session version; every other one ends.
            login_user(Operator.get_by_id(current_user.id))
            session.modified = True
            audit_action("operator_password_changed")
            return done("La tua password è stata cambiata: le altre sessioni del tuo account "
                        "sono terminate.", "backoffice.inbox")
        form.current_password.errors.append("La password attuale non è corretta.")
    status = 422 if request.method == "POST" else 200
    return render_page("backoffice/password.html", form=form, forced=forced), status


def _operators_page(form, status=200, password_for=None, password_form=None):
    """The list, and below it the new-operator form or `password_for`'s new password."""
    return render_page("backoffice/operators.html", form=form, password_for=password_for,
                       password_form=password_form, accounts=list(backoffice.operators()),
                       last_logins=backoffice.last_logins(), role_labels=ROLE_LABELS), status


@bp.get("/operatori")
@bp.post("/operatori")
@operator_required(role=Operator.ADMIN)
def operators():
    """Operatori: the accounts and a new one, whose first password the admin chooses."""
    form = NewOperatorForm()
    if not form.validate_on_submit():
        return _operators_page(form, 422 if request.method == "POST" else 200)
    try:
        account = backoffice.create_operator(form.username.data, form.password.data,
                                             form.role.data, form.name.data, temporary=True)
    except backoffice.AccountError as error:  # the name was taken meanwhile
        _add_errors(form, error.errors)
        return _operators_page(form, 422)
    audit_action("operator_account_created", detail=f"«{account.username}», {account.role}")
    return done(f"Operatore «{account.username}» creato: comunicagli la password scelta, che "
                "dovrà cambiare al primo accesso.",
                "backoffice.operators")


@bp.get("/operatori/<int:operator_id>/password")
@bp.post("/operatori/<int:operator_id>/password")
@operator_required(role=Operator.ADMIN)
def operator_password(operator_id):
    """A new password for another operator, which ends all their sessions."""
    account = get_or_404(Operator, Operator.id == operator_id)
    if account.id == current_user.id:
        return done(NOT_YOUR_PASSWORD, "backoffice.operators", "error")
    form = PasswordForm(account)
    if not form.validate_on_submit():
        status = 422 if request.method == "POST" else 200
        return _operators_page(NewOperatorForm(formdata=None), status, account, form)
    backoffice.set_password(account, form.password.data, temporary=True)
    audit_action("operator_password_set", detail=f"«{account.username}»")
    return done(f"Nuova password impostata per «{account.username}»: le sue sessioni aperte "
                "sono terminate e al prossimo accesso dovrà sceglierne una sua.",
                "backoffice.operators")


@bp.post("/operatori/<int:operator_id>/disattiva")
@operator_required(role=Operator.ADMIN)
def operator_deactivate(operator_id):
    """Deactivate another operator: no more logins, every open session ends now."""
    account = get_or_404(Operator, Operator.id == operator_id)
    if account.id == current_user.id:
        return done(NOT_YOURSELF, "backoffice.operators", "error")
    backoffice.set_active(account, False)
    audit_action("operator_account_deactivated", detail=f"«{account.username}»")
    return done(f"Operatore «{account.username}» disattivato: le sue sessioni sono terminate.",
                "backoffice.operators")


@bp.post("/operatori/<int:operator_id>/riattiva")
@operator_required(role=Operator.ADMIN)
def operator_reactivate(operator_id):
    """Reactivate an operator, who logs in again with their password."""
    account = get_or_404(Operator, Operator.id == operator_id)
    backoffice.set_active(account, True)
    audit_action("operator_account_reactivated", detail=f"«{account.username}»")
    return done(f"Operatore «{account.username}» riattivato.", "backoffice.operators")
