"""rasa_sdk names every action server app `rasa_sdk`: several in one test process need sanic's test mode."""

from sanic import Sanic

Sanic.test_mode = True
