<?xml version="1.0" encoding="utf-8"?>
<!--
  datastore behind IIS as a reverse proxy: URL Rewrite + Application Request Routing (ARR)
  forward /datastore/* to a datastore service running on its own (a Windows service, see
  docs/DEPLOYMENT.md, "ARR"). Rename to web.config in the site's root folder.

  Once per server (elevated prompt):
    %windir%\system32\inetsrv\appcmd.exe set config -section:system.webServer/proxy /enabled:"True" /preserveHostHeader:"True" /commit:apphost
    %windir%\system32\inetsrv\appcmd.exe set config -section:system.webServer/rewrite/allowedServerVariables /+"[name='HTTP_X_FORWARDED_PROTO']" /commit:apphost
    %windir%\system32\inetsrv\appcmd.exe set config -section:system.webServer/rewrite/allowedServerVariables /+"[name='HTTP_X_FORWARDED_HOST']" /commit:apphost
    %windir%\system32\inetsrv\appcmd.exe set config -section:system.webServer/proxy /responseBufferLimit:"0" /commit:apphost
  The last line makes ARR pass responses on as they come (GET /events, Server-Sent Events;
  ARR buffers 4 MB by default). ARR's proxy timeout (120 s by default) stays: the event
  stream sends a comment line every 15 s.
  ARR adds X-Forwarded-For itself (proxy setting "Preserve client IP in the following header",
  on by default; it may append the client's port, which the service understands).

  The service: datastore serve listen=127.0.0.1:8080 base-path=/datastore, with
  DATASTORE_TRUSTED_PROXIES=127.0.0.1,::1 and DATASTORE_ADMIN_KEY set in its environment
  (behind a proxy the service never runs open: it needs a key to start)
  trusted-proxies=127.0.0.1,::1 (the rule below keeps the /datastore prefix).
-->
<configuration>
  <system.webServer>
    <rewrite>
      <rules>
        <rule name="datastore (https)" stopProcessing="true">
          <match url="^datastore(/.*)?$" />
          <conditions>
            <add input="{HTTPS}" pattern="^on$" />
          </conditions>
          <serverVariables>
            <set name="HTTP_X_FORWARDED_PROTO" value="https" />
            <set name="HTTP_X_FORWARDED_HOST" value="{HTTP_HOST}" />
          </serverVariables>
          <action type="Rewrite" url="http://127.0.0.1:8080/datastore{R:1}" />
        </rule>
        <rule name="datastore (http)" stopProcessing="true">
          <match url="^datastore(/.*)?$" />
          <serverVariables>
            <set name="HTTP_X_FORWARDED_PROTO" value="http" />
            <set name="HTTP_X_FORWARDED_HOST" value="{HTTP_HOST}" />
          </serverVariables>
          <action type="Rewrite" url="http://127.0.0.1:8080/datastore{R:1}" />
        </rule>
      </rules>
    </rewrite>
    <security>
      <requestFiltering>
        <!-- Above --max-upload (default 100 MiB) plus the multipart framing: uploadFile's own
             413 TOO_LARGE then decides. Raise both together. -->
        <requestLimits maxAllowedContentLength="106954752" />
      </requestFiltering>
    </security>
    <httpErrors existingResponse="PassThrough" />
  </system.webServer>
  <!-- GET /events (Server-Sent Events): never compressed or cached by IIS (both buffer). -->
  <location path="datastore/events">
    <system.webServer>
      <urlCompression doStaticCompression="false" doDynamicCompression="false" />
      <caching enabled="false" enableKernelCache="false" />
    </system.webServer>
  </location>
</configuration>
