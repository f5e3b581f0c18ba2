from django.urls import path

from environments import views

app_name = "environments"
urlpatterns = [
    path("", views.environment_list, name="list"),
    path("security-groups/", views.security_group_list, name="security_groups"),
]
