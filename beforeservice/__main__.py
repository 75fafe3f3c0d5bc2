from beforeservice.cli import app

app()
