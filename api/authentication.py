"""``Authorization: Bearer <token>``: a personal API token acts as its user."""

from __future__ import annotations

from rest_framework import authentication, exceptions

from api import services
from api.models import ApiToken, split_token

KEYWORD = "Bearer"


class BearerTokenAuthentication(authentication.BaseAuthentication):
    def authenticate(self, request):
        header = authentication.get_authorization_header(request).decode("latin-1").split()
        if not header or header[0].lower() != KEYWORD.lower():
            return None  # no token: the permission check answers 401
        if len(header) != 2:
            raise exceptions.AuthenticationFailed(
                "Send the token as 'Authorization: Bearer <token>', with nothing else."
            )
        token_text = header[1]
        parts = split_token(token_text)
        token = (
            ApiToken.objects.select_related("user").filter(prefix=parts[0]).first()
            if parts
            else None
        )
        if token is None or not token.matches(token_text):
            raise exceptions.AuthenticationFailed("This API token is not valid.")
        refusal = token.refusal()
        if refusal:
            raise exceptions.AuthenticationFailed(refusal)
        services.api_token_touch(token=token)
        return token.user, token

    def authenticate_header(self, request):
        return f'{KEYWORD} realm="api"'
