"""Signing in and out, the language switch, the password change, and each role's home page."""
from __future__ import annotations

from urllib.parse import urlsplit

from flask import Blueprint, current_app, flash, redirect, render_template, request, session, url_for
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_required, login_user, logout_user
from flask_wtf import FlaskForm
from wtforms import PasswordField, StringField
from wtforms.validators import InputRequired, Length

from yijianshi.engine.access.accounts import AccountError, SignInRefused
from yijianshi.web.i18n import LANG_COOKIE
from yijianshi.web.i18n import gettext as _
from yijianshi.web.services import services
from yijianshi.web.users import SignedInUser

bp = Blueprint("auth", __name__)


class LoginForm(FlaskForm):
    username = StringField(_l("用户名"), validators=[InputRequired(_l("请输入用户名。")), Length(max=64)],
                           render_kw={"autocomplete": "username", "autofocus": True})
    password = PasswordField(_l("密码"), validators=[InputRequired(_l("请输入密码。")), Length(max=128)],
                             render_kw={"autocomplete": "current-password"})


class PasswordForm(FlaskForm):
    old_password = PasswordField(_l("原密码"), validators=[InputRequired(_l("请输入原密码。"))],
                                 render_kw={"autocomplete": "current-password"})
    new_password = PasswordField(_l("新密码"), validators=[InputRequired(_l("请输入新密码。"))],
                                 render_kw={"autocomplete": "new-password"})


def safe_next(target: str | None) -> str | None:
    """Only same-site paths are followed after sign-in (no open redirect)."""
    if not target:
        return None
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return None
    return target


def home_for(user) -> str:
    if user.is_applicant:
        return url_for("apply.catalogue")
    if user.uses_inbox:
        return url_for("inbox.index")
    return url_for("overview.index")


@bp.get("/")
def home():
    if not current_user.is_authenticated:
        return redirect(url_for("auth.login"))
    return redirect(home_for(current_user))


@bp.route("/login", methods=["GET", "POST"])
def login():
    if current_user.is_authenticated and request.method == "GET":
        return redirect(home_for(current_user))
    form = LoginForm()
    error = None
    if form.validate_on_submit():
        try:
            account = services().accounts.authenticate(form.username.data, form.password.data)
        except SignInRefused as err:
            error = str(err)
        else:
            if current_user.is_authenticated:  # signing in again ends the session this browser had
                services().accounts.end_session(current_user.session_id)
            lang = session.get(LANG_COOKIE)
            session.clear()  # a fresh session on sign-in (no fixation)
            if lang:
                session[LANG_COOKIE] = lang
            login_user(SignedInUser(account, services().accounts.start_session(account.username)))
            session.permanent = True
            return redirect(safe_next(request.args.get("next")) or home_for(current_user))
    status = 401 if error else 422 if form.errors else 200
    return render_template("login.html", form=form, error=error,
                           demo=current_app.config.get("SHOW_DEMO_ACCOUNTS", False)), status


@bp.post("/logout")
def logout():
    if current_user.is_authenticated:  # ended on the server: the cookie is worth nothing afterwards
        services().accounts.end_session(current_user.session_id)
    logout_user()
    lang = session.get(LANG_COOKIE)
    session.clear()
    if lang:
        session[LANG_COOKIE] = lang
    flash(_("您已安全退出。"), "info")
    return redirect(url_for("auth.login"))


@bp.get("/lang/<code>")
def language(code: str):
    languages = current_app.config["LANGUAGES"]
    target = safe_next(request.args.get("next")) or url_for("auth.home")
    response = redirect(target)
    if code in languages:
        session[LANG_COOKIE] = code
        response.set_cookie(LANG_COOKIE, code, max_age=365 * 86400, samesite="Lax", httponly=True)
    return response


@bp.route("/account/password", methods=["GET", "POST"])
@login_required
def password():
    form = PasswordForm()
    error = None
    if form.validate_on_submit():
        try:
            account = services().accounts.change_password(current_user.username, form.old_password.data,
                                                          form.new_password.data, session=current_user.session_id)
        except AccountError as err:
            error = str(err)
        else:
            current_app.extensions["yijianshi.accounts_cache"].forget(account.username)
            login_user(SignedInUser(account, current_user.session_id))  # this session goes on; others end
            flash(_("密码已修改。其他设备上的登录已失效。"), "success")
            return redirect(home_for(current_user))
    return render_template("password.html", form=form, error=error), (422 if error else 200)
