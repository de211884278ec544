import os

from django.core.asgi import get_asgi_application

from marketingai.envfile import load_env_file

load_env_file()
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "marketingai.settings")
application = get_asgi_application()
