"""The operators' console. Writes with logic behind them go through the services."""

import json
from collections.abc import Callable
from functools import partial
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.contrib.auth import get_user_model, password_validation
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.contrib.auth.base_user import AbstractBaseUser
from django.contrib.auth.validators import UnicodeUsernameValidator
from django.db import transaction
from django.db.models import JSONField, QuerySet
from django.http import HttpRequest, HttpResponseBase, HttpResponseRedirect
from django.utils import timezone

from entities.errors import EntitiesError
from entities.models import (
    ApiKey,
    Assistant,
    File,
    FunctionDefinition,
    Message,
    Run,
    RunStep,
    Thread,
    User,
)
from entities.models.console import CANCEL_RUNS
from entities.services import runs as run_services
from entities.services import threads as thread_services
from entities.services import users as user_services


def _login(request: HttpRequest) -> AbstractBaseUser:
    """The admin's login (the admin only lets logged-in staff in)."""
    assert isinstance(request.user, AbstractBaseUser)
    return request.user


def acting_user(request: HttpRequest) -> User:
    """The entities user of the admin's login."""
    return user_services.user_for_account(_login(request))


class RefusalsAsMessages(admin.ModelAdmin):
    """A service's refusal (e.g. deleting the last admin) is the page's error message, not a 500.

    The whole request's writes roll back with it, the log entry of a delete included.
    """

    def _refusing(self, request: HttpRequest, view: Callable[[], HttpResponseBase]) -> Any:
        try:
            with transaction.atomic():
                return view()
        except EntitiesError as exc:
            self.message_user(request, exc.message, messages.ERROR)
            return HttpResponseRedirect(request.get_full_path())

    def changeform_view(self, request: HttpRequest, *args: Any, **kwargs: Any) -> Any:
        return self._refusing(request, partial(super().changeform_view, request, *args, **kwargs))

    def changelist_view(self, request: HttpRequest, *args: Any, **kwargs: Any) -> Any:
        return self._refusing(request, partial(super().changelist_view, request, *args, **kwargs))

    def delete_view(self, request: HttpRequest, *args: Any, **kwargs: Any) -> Any:
        return self._refusing(request, partial(super().delete_view, request, *args, **kwargs))


admin.site.unregister(get_user_model())


@admin.register(get_user_model())
class AccountAdmin(RefusalsAsMessages, DjangoUserAdmin):
    """Django's own page for logins, with the services' guard: the last admin's way in stays."""

    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        with user_services.an_admin_keeps_a_way_in():
            super().save_model(request, obj, form, change)

    def delete_model(self, request: HttpRequest, obj: Any) -> None:
        user_services.account_delete(account=obj, by=_login(request))

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> None:
        for account in queryset:
            user_services.account_delete(account=account, by=_login(request))

    def user_change_password(self, request: HttpRequest, *args: Any, **kwargs: Any) -> Any:
        # Django 5.1+ can make a password unusable here: the last superuser's would lock all out.
        def guarded() -> Any:
            with user_services.an_admin_keeps_a_way_in():
                return super(AccountAdmin, self).user_change_password(request, *args, **kwargs)

        return self._refusing(request, guarded)


class ApiKeyInline(admin.TabularInline):
    model = ApiKey
    extra = 0
    fields = ["prefix", "name", "created_at", "last_used_at", "expires_at", "revoked_at"]
    readonly_fields = ["prefix", "name", "created_at", "last_used_at", "expires_at", "revoked_at"]
    can_delete = False
    show_change_link = True

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class JSONDefaultsForm(forms.ModelForm):
    """A cleared JSON box means the field's default (``[]``, ``{}``, ``"auto"``), not SQL NULL.

    The columns are NOT NULL, so saving the ``None`` of an emptied box would be a server error.
    """

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        for field in self._meta.model._meta.concrete_fields:
            if (
                isinstance(field, JSONField)
                and not field.null
                and field.name in cleaned
                and cleaned[field.name] is None
            ):
                cleaned[field.name] = field.get_default()
        return cleaned


class StorableJSONFormField(forms.JSONField):
    """Shows a refused value again with JSON escapes where it holds text that cannot be
    stored (a lone surrogate): Django's own field writes it raw, and the page cannot be encoded."""

    def prepare_value(self, value: Any) -> Any:
        if isinstance(value, forms.fields.InvalidJSONInput):
            return value
        shown = super().prepare_value(value)
        try:
            shown.encode()
        except UnicodeEncodeError:
            return json.dumps(value, ensure_ascii=True, cls=self.encoder)
        return shown


class JSONAdmin(admin.ModelAdmin):
    """An admin whose JSON boxes take the fields' defaults when cleared and show any value."""

    form = JSONDefaultsForm
    formfield_overrides = {JSONField: {"form_class": StorableJSONFormField}}


class UserForm(forms.ModelForm):
    username = forms.CharField(
        required=False,
        max_length=150,
        validators=[UnicodeUsernameValidator()],
        help_text="Optional: a login for the admin console and browser chat.",
    )
    password = forms.CharField(
        required=False, widget=forms.PasswordInput, help_text="Needed with a login."
    )

    class Meta:
        model = User
        fields = ["name", "email", "is_admin", "account"]

    def clean_username(self) -> str:
        username: str = self.cleaned_data.get("username") or ""
        if username and get_user_model().objects.filter(username=username).exists():
            raise forms.ValidationError(f"The login '{username}' is taken.")
        return username

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        username, password = cleaned.get("username"), cleaned.get("password")
        if "username" not in self.fields:
            return cleaned
        if password and not username:
            self.add_error("username", "Give a login for this password, or leave both empty.")
        elif username and not password:
            self.add_error("password", "A login needs a password.")
        elif username and password:
            account = get_user_model()(username=username, email=cleaned.get("email") or "")
            try:
                password_validation.validate_password(password, account)
            except forms.ValidationError as exc:
                self.add_error("password", exc)
        return cleaned


@admin.register(User)
class UserAdmin(RefusalsAsMessages):
    form = UserForm
    list_display = ["name", "id", "email", "is_admin", "account", "created_at"]
    list_filter = ["is_admin"]
    search_fields = ["id", "name", "email", "account__username"]
    inlines = [ApiKeyInline]
    actions = ["create_api_key"]

    def get_fields(self, request: HttpRequest, obj: User | None = None) -> tuple[str, ...]:
        if obj is None:
            return ("name", "email", "is_admin", "username", "password")
        return ("name", "email", "is_admin", "account")

    def save_model(
        self, request: HttpRequest, obj: User, form: forms.ModelForm, change: bool
    ) -> None:
        if change:
            # Through the service, as the API: is_admin also opens or closes the login's console,
            # and the last admin's way in is kept.
            user_services.user_update(
                user=obj, **{field: getattr(obj, field) for field in form.changed_data}
            )
            return
        data = form.cleaned_data
        created = user_services.user_create(
            name=data["name"],
            email=data["email"],
            is_admin=data["is_admin"],
            username=data.get("username") or None,
            password=data.get("password") or None,
        )
        obj.pk = created.pk
        obj.refresh_from_db()

    # Deleting a person also deletes their login, as the API does: else it could still sign in.
    def delete_model(self, request: HttpRequest, obj: User) -> None:
        user_services.user_delete(user=obj, by=acting_user(request))

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[User]) -> None:
        by = acting_user(request)
        for user in queryset:
            user_services.user_delete(user=user, by=by)

    def has_create_api_key_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("entities.add_apikey")

    # A key acts as its user: only those who may add keys make one, even for a user they may see.
    @admin.action(description="Create an API key (shown once)", permissions=["create_api_key"])
    def create_api_key(self, request: HttpRequest, queryset: QuerySet[User]) -> None:
        for user in queryset:
            _, raw = user_services.api_key_create(user=user, name="admin console")
            messages.success(
                request, f"New API key for {user.name}: {raw} — copy it now, it is not shown again."
            )


class ApiKeyForm(forms.ModelForm):
    class Meta:
        model = ApiKey
        fields = ["user", "name", "expires_at"]

    def clean_expires_at(self) -> Any:
        expires_at = self.cleaned_data.get("expires_at")
        if self.instance._state.adding and expires_at is not None and expires_at <= timezone.now():
            raise forms.ValidationError("expires_at must be in the future.")
        return expires_at


@admin.register(ApiKey)
class ApiKeyAdmin(RefusalsAsMessages):
    form = ApiKeyForm
    list_display = [
        "prefix",
        "name",
        "user",
        "created_at",
        "last_used_at",
        "expires_at",
        "revoked_at",
    ]
    list_filter = ["revoked_at"]
    search_fields = ["prefix", "name", "user__name"]
    readonly_fields = ["prefix", "created_at", "last_used_at", "revoked_at"]
    fields = ["user", "name", "expires_at", "prefix", "created_at", "last_used_at", "revoked_at"]
    actions = ["revoke"]

    def get_readonly_fields(self, request: HttpRequest, obj: ApiKey | None = None) -> list[str]:
        # A key stays with the user it was made for.
        return [*self.readonly_fields, "user"] if obj is not None else list(self.readonly_fields)

    def save_model(
        self, request: HttpRequest, obj: ApiKey, form: forms.ModelForm, change: bool
    ) -> None:
        if change:
            super().save_model(request, obj, form, change)
            return
        # The form has checked what the service checks (expires_at in the future).
        key, raw = user_services.api_key_create(
            user=obj.user, name=obj.name, expires_at=obj.expires_at
        )
        obj.pk = key.pk
        obj.refresh_from_db()
        messages.success(request, f"The new API key is {raw} — copy it now, it is not shown again.")

    @admin.action(description="Revoke the selected keys", permissions=["change"])
    def revoke(self, request: HttpRequest, queryset: QuerySet[ApiKey]) -> None:
        for key in queryset:
            user_services.api_key_revoke(key=key)
        messages.success(request, f"Revoked {queryset.count()} key(s).")


@admin.register(FunctionDefinition)
class FunctionDefinitionAdmin(JSONAdmin):
    list_display = ["name", "id", "description", "strict", "created_at"]
    search_fields = ["name", "description"]


@admin.register(Assistant)
class AssistantAdmin(JSONAdmin):
    list_display = ["name", "id", "model", "owner", "created_at"]
    list_filter = ["model"]
    search_fields = ["id", "name", "description", "owner__name"]
    filter_horizontal = ["function_definitions"]
    autocomplete_fields = ["owner"]


class MessageInline(admin.TabularInline):
    model = Message
    extra = 0
    fields = ["id", "role", "sender", "text", "status", "run", "created_at"]
    readonly_fields = ["id", "role", "sender", "text", "status", "run", "created_at"]
    can_delete = False

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    @admin.display(description="text")
    def text(self, message: Message) -> str:
        return message.text[:500]


@admin.register(Thread)
class ThreadAdmin(JSONAdmin):
    list_display = ["id", "owner", "created_at"]
    search_fields = ["id", "participants__name"]
    filter_horizontal = ["participants"]
    inlines = [MessageInline]
    readonly_fields = ["owner"]

    # As the API does: the thread's sandbox folder goes with it.
    def delete_model(self, request: HttpRequest, obj: Thread) -> None:
        thread_services.thread_delete(thread=obj)

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[Thread]) -> None:
        for thread in queryset:
            thread_services.thread_delete(thread=thread)


class RunStepInline(admin.TabularInline):
    model = RunStep
    extra = 0
    fields = ["id", "type", "status", "step_details", "last_error", "created_at"]
    readonly_fields = ["id", "type", "status", "step_details", "last_error", "created_at"]
    can_delete = False

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(Run)
class RunAdmin(admin.ModelAdmin):
    list_display = ["id", "status", "model", "assistant", "thread", "created_at", "error"]
    list_filter = ["status", "model", "assistant"]
    search_fields = ["id", "thread__id"]
    inlines = [RunStepInline]
    actions = ["cancel"]

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:
        return [f.name for f in Run._meta.fields]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    @admin.display(description="last error")
    def error(self, run: Run) -> str:
        return (run.last_error or {}).get("message", "")

    def has_cancel_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm(f"entities.{CANCEL_RUNS}")

    # The console's permission: seeing runs is not stopping anyone's.
    @admin.action(description="Cancel the selected runs", permissions=["cancel"])
    def cancel(self, request: HttpRequest, queryset: QuerySet[Run]) -> None:
        for run in queryset:
            try:
                run = run_services.run_cancel(run=run)
            except EntitiesError as exc:
                messages.warning(request, f"{run.id}: {exc.message}")
                continue
            if run.status == Run.Status.CANCELLED:
                messages.success(request, f"{run.id}: cancelled.")
            else:
                messages.success(request, f"{run.id}: cancel requested; its worker stops it.")


@admin.register(File)
class FileAdmin(admin.ModelAdmin):
    list_display = ["filename", "id", "owner", "bytes", "purpose", "created_at"]
    search_fields = ["id", "filename"]
