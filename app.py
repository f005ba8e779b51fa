from outreach import create_app

app = create_app()
