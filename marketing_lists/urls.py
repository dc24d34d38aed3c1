from django.urls import path

from . import views

app_name = "subscriptions"

urlpatterns = [
    path("confirm/<str:token>/", views.confirm, name="confirm"),
    path("<str:token>/", views.center, name="center"),
    path("<str:token>/saved/", views.saved, name="saved"),
    path("<str:token>/unsubscribe/", views.unsubscribe, name="unsubscribe"),
    path("<str:token>/unsubscribe/<int:list_id>/", views.unsubscribe, name="unsubscribe_list"),
]
