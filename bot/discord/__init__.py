"""The Discord transport: the bot (client.py), its cogs (chat.py), rendering (render.py)."""
