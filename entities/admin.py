"""The operators' console. Writes with logic behind them go through the services."""

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest

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
from entities.services import runs as run_services
from entities.services import users as user_services


class ApiKeyInline(admin.TabularInline):
    model = ApiKey
    extra = 0
    fields = ["prefix", "name", "created_at", "last_used_at", "expires_at", "revoked_at"]
    readonly_fields = fields
    can_delete = False
    show_change_link = True

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class UserForm(forms.ModelForm):
    username = forms.CharField(
        required=False, help_text="Optional: a login for the admin console and browser chat."
    )
    password = forms.CharField(required=False, widget=forms.PasswordInput)

    class Meta:
        model = User
        fields = ["name", "email", "is_admin", "account"]


@admin.register(User)
class UserAdmin(admin.ModelAdmin):
    form = UserForm
    list_display = ["name", "id", "email", "is_admin", "account", "created_at"]
    list_filter = ["is_admin"]
    search_fields = ["id", "name", "email", "account__username"]
    inlines = [ApiKeyInline]
    actions = ["create_api_key"]

    def get_fields(self, request: HttpRequest, obj: User | None = None) -> list[str]:
        if obj is None:
            return ["name", "email", "is_admin", "username", "password"]
        return ["name", "email", "is_admin", "account"]

    def save_model(
        self, request: HttpRequest, obj: User, form: forms.ModelForm, change: bool
    ) -> None:
        if change:
            super().save_model(request, obj, form, change)
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

    @admin.action(description="Create an API key (shown once)")
    def create_api_key(self, request: HttpRequest, queryset: QuerySet[User]) -> None:
        for user in queryset:
            _, raw = user_services.api_key_create(user=user, name="admin console")
            messages.success(
                request, f"New API key for {user.name}: {raw} — copy it now, it is not shown again."
            )


@admin.register(ApiKey)
class ApiKeyAdmin(admin.ModelAdmin):
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

    def save_model(
        self, request: HttpRequest, obj: ApiKey, form: forms.ModelForm, change: bool
    ) -> None:
        if change:
            super().save_model(request, obj, form, change)
            return
        try:
            key, raw = user_services.api_key_create(
                user=obj.user, name=obj.name, expires_at=obj.expires_at
            )
        except EntitiesError as exc:
            messages.error(request, exc.message)
            return
        obj.pk = key.pk
        obj.refresh_from_db()
        messages.success(request, f"The new API key is {raw} — copy it now, it is not shown again.")

    @admin.action(description="Revoke the selected keys")
    def revoke(self, request: HttpRequest, queryset: QuerySet[ApiKey]) -> None:
        for key in queryset:
            user_services.api_key_revoke(key=key)
        messages.success(request, f"Revoked {queryset.count()} key(s).")


@admin.register(FunctionDefinition)
class FunctionDefinitionAdmin(admin.ModelAdmin):
    list_display = ["name", "id", "description", "strict", "created_at"]
    search_fields = ["name", "description"]


@admin.register(Assistant)
class AssistantAdmin(admin.ModelAdmin):
    list_display = ["name", "id", "model", "owner", "created_at"]
    list_filter = ["model"]
    search_fields = ["id", "name", "description", "owner__name"]
    filter_horizontal = ["function_definitions"]
    autocomplete_fields = ["owner"]


class MessageInline(admin.TabularInline):
    model = Message
    extra = 0
    fields = ["id", "role", "sender", "text", "status", "run", "created_at"]
    readonly_fields = fields
    can_delete = False

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    @admin.display(description="text")
    def text(self, message: Message) -> str:
        return message.text[:500]


@admin.register(Thread)
class ThreadAdmin(admin.ModelAdmin):
    list_display = ["id", "owner", "created_at"]
    search_fields = ["id", "participants__name"]
    filter_horizontal = ["participants"]
    inlines = [MessageInline]
    readonly_fields = ["owner"]


class RunStepInline(admin.TabularInline):
    model = RunStep
    extra = 0
    fields = ["id", "type", "status", "step_details", "last_error", "created_at"]
    readonly_fields = fields
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

    @admin.action(description="Cancel the selected runs")
    def cancel(self, request: HttpRequest, queryset: QuerySet[Run]) -> None:
        for run in queryset:
            try:
                run_services.run_cancel(run=run)
            except EntitiesError as exc:
                messages.warning(request, f"{run.id}: {exc.message}")
            else:
                messages.success(request, f"{run.id}: cancel requested.")


@admin.register(File)
class FileAdmin(admin.ModelAdmin):
    list_display = ["filename", "id", "owner", "bytes", "purpose", "created_at"]
    search_fields = ["id", "filename"]
